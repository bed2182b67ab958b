// Right, but never flushes: printf to a pipe is buffered, so the question never reaches the
// interactor, which waits for it while the program waits for the reply, until the time is up.
#include <cstdio>
int main() {
    long long low = 1, high = 1000000000;
    char reply[8];
    for (;;) {
        long long middle = (low + high) / 2;
        printf("? %lld\n", middle);
        if (scanf("%7s", reply) != 1 || reply[0] == '=') break;
        if (reply[0] == '<') high = middle - 1; else low = middle + 1;
    }
}
