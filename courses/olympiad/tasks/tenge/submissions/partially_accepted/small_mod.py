#!/usr/bin/env python3
# Wrong: takes the remainder modulo 10^9 + 9 instead of 10^9 + 7.
# Partially accepted: the subtasks it passes give their points (problemtools: AC with a lower score).
MOD = 10**9 + 9
k, x = map(int, input().split())
coins = list(map(int, input().split()))
ways = [0] * (x + 1)
ways[0] = 1
for c in coins:
    for amount in range(c, x + 1):
        ways[amount] = (ways[amount] + ways[amount - c]) % MOD
print(ways[x])
