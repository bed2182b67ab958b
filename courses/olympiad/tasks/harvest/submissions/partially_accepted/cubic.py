#!/usr/bin/env python3
# Every segment, summed from scratch: O(n^3), enough for subtask 1.
n = int(input())
a = list(map(int, input().split()))
best = a[0]
for l in range(n):
    for r in range(l, n):
        s = 0
        for i in range(l, r + 1):
            s += a[i]
        best = max(best, s)
print(best)
