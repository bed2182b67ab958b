#!/usr/bin/env python3
# Every segment, extending the sum to the right: O(n^2), subtasks 1 and 2 only.
# Partially accepted: the subtasks it passes give their points (problemtools: AC with a lower score).
n = int(input())
a = list(map(int, input().split()))
best = a[0]
for l in range(n):
    s = 0
    for r in range(l, n):
        s += a[r]
        if s > best:
            best = s
print(best)
