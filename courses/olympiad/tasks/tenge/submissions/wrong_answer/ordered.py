#!/usr/bin/env python3
# Wrong: the loops are swapped, so 1+2 and 2+1 are counted as different ways.
MOD = 10**9 + 7
k, x = map(int, input().split())
coins = list(map(int, input().split()))
ways = [0] * (x + 1)
ways[0] = 1
for amount in range(1, x + 1):
    for c in coins:
        if c <= amount:
            ways[amount] = (ways[amount] + ways[amount - c]) % MOD
print(ways[x])
