/* Binary search on 1..10^9: at most 30 questions; fflush sends each question at once. */
#include <stdio.h>
int main(void) {
    long long low = 1, high = 1000000000LL;
    char reply[8];
    for (;;) {
        long long middle = (low + high) / 2;
        printf("? %lld\n", middle);
        fflush(stdout);
        if (scanf("%7s", reply) != 1 || reply[0] == '=') break;
        if (reply[0] == '<') high = middle - 1; else low = middle + 1;
    }
    return 0;
}
