#!/usr/bin/env python3
# Coin by coin, the classic recurrence ways[a] += ways[a - c] for a = c, c+1, ..., X,
# computed on whole slices so that the work is done by list operations, not by a Python loop:
# - a small coin: within each residue class r, r + c, r + 2c, ... the new values are running sums
#   (itertools.accumulate), c slices in all;
# - a big coin: block [a, a + c) is block [a, a + c) plus the already updated block [a - c, a),
#   X / c blocks in all.
import sys
from itertools import accumulate

MOD = 10**9 + 7
data = sys.stdin.buffer.read().split()
k, x = int(data[0]), int(data[1])
ways = [1] + [0] * x
for c in map(int, data[2:2 + k]):
    if c > x:
        continue
    if c * c <= x:
        for r in range(c):
            ways[r::c] = [v % MOD for v in accumulate(ways[r::c])]
    else:
        for a in range(c, x + 1, c):
            ways[a:a + c] = [(u + v) % MOD for u, v in zip(ways[a:a + c], ways[a - c:a])]
print(ways[x])
