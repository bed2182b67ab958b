#!/usr/bin/env python3
# Kadane written recursively: correct, but the recursion is n deep and Python stops at about 1000.
# Partially accepted: the subtasks it passes give their points (problemtools: AC with a lower score).
n = int(input())
a = list(map(int, input().split()))
best = a[0]


def ending_at(i):
    """The best sum of a segment that ends at field i."""
    global best
    if i == 0:
        return a[0]
    value = max(a[i], a[i] + ending_at(i - 1))
    best = max(best, value)
    return value


ending_at(n - 1)
print(best)
