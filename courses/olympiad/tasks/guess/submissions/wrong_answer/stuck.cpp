// The bounds never pass the middle (high = middle, low = middle): near the top it asks the
// same question again and again, and after 30 questions it has not found the number.
#include <cstdio>
int main() {
    long long low = 1, high = 1000000000;
    char reply[8];
    for (;;) {
        long long middle = (low + high) / 2;
        printf("? %lld\n", middle);
        fflush(stdout);
        if (scanf("%7s", reply) != 1 || reply[0] == '=') break;
        if (reply[0] == '<') high = middle; else low = middle;
    }
}
