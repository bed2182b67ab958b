#!/usr/bin/env python3
# For every coin and amount, tries every number of coins of that kind: O(k * X^2 / c).
# Partially accepted: the subtasks it passes give their points (problemtools: AC with a lower score).
MOD = 10**9 + 7
k, x = map(int, input().split())
coins = list(map(int, input().split()))
ways = [0] * (x + 1)
ways[0] = 1
for c in coins:
    new = [0] * (x + 1)
    for amount in range(x + 1):
        total = 0
        for rest in range(amount, -1, -c):
            total += ways[rest]
        new[amount] = total % MOD
    ways = new
print(ways[x])
