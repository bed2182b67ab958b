#!/usr/bin/env python3
# Tries every row from every start: O(n^2), too slow when no fair row starts early.
n = int(input())
coins = list(map(int, input().split()))
for l in range(n):
    rest = 0
    for r in range(l, n):
        rest = (rest + coins[r]) % n
        if rest == 0:
            print(l + 1, r + 1)
            raise SystemExit
