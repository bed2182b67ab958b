#!/usr/bin/env python3
# Memoised recursion: correct, but X levels deep; Python's recursion limit (1000) stops it.
# Partially accepted: the subtasks it passes give their points (problemtools: AC with a lower score).
from functools import lru_cache

MOD = 10**9 + 7
k, x = map(int, input().split())
coins = list(map(int, input().split()))


@lru_cache(maxsize=None)
def ways(i, rest):
    """Ways to pay `rest` with coins i, i+1, ..."""
    if rest == 0:
        return 1
    if i == k or rest < 0:
        return 0
    return (ways(i, rest - coins[i]) + ways(i + 1, rest)) % MOD


print(ways(0, x))
