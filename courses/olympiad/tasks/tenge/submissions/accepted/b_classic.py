#!/usr/bin/env python3
# The classic knapsack count: the outer loop over coins makes every way counted once.
MOD = 10**9 + 7
k, x = map(int, input().split())
coins = list(map(int, input().split()))
ways = [0] * (x + 1)
ways[0] = 1
for c in coins:
    for amount in range(c, x + 1):
        ways[amount] = (ways[amount] + ways[amount - c]) % MOD
print(ways[x])
