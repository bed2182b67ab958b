// The same idea in C++, answering with the last fair row it meets rather than the first: the
// checker accepts any fair row, not only the jury's.
#include <cstdio>
#include <vector>

int main() {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    std::vector<int> first(n, -1);
    first[0] = 0;
    long long total = 0;
    int best_l = 0, best_r = 0;
    for (int i = 1; i <= n; ++i) {
        long long c;
        scanf("%lld", &c);
        total = (total + c) % n;
        if (first[total] >= 0) best_l = first[total] + 1, best_r = i;
        else first[total] = i;
    }
    printf("%d %d\n", best_l, best_r);
}
