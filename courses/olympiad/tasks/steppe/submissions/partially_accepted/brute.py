#!/usr/bin/env python3
# Adds up the road segments for every trip: O(n) per trip, too slow for subtask 3.
import sys

data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
d = [int(x) for x in data[2:n + 1]]
out = []
k = n + 1
for _ in range(q):
    a, b = sorted((int(data[k]), int(data[k + 1])))
    k += 2
    total = 0
    for i in range(a - 1, b - 1):
        total += d[i]
    out.append(total)
print("\n".join(map(str, out)))
