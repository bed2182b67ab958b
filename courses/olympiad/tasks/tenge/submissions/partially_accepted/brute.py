#!/usr/bin/env python3
# Tries every number of coins of every denomination: exponential, subtask 1 only.
k, x = map(int, input().split())
coins = list(map(int, input().split()))


def count(i, rest):
    if i == k:
        return 1 if rest == 0 else 0
    total = 0
    while rest >= 0:
        total += count(i + 1, rest)
        rest -= coins[i]
    return total


print(count(0, x) % (10**9 + 7))
