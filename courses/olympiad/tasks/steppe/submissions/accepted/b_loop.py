#!/usr/bin/env python3
# Prefix sums with an explicit loop.
import sys

data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
pos = [0] * (n + 1)
for i in range(2, n + 1):
    pos[i] = pos[i - 1] + int(data[i])
out = []
k = n + 1
for _ in range(q):
    a, b = int(data[k]), int(data[k + 1])
    k += 2
    out.append(abs(pos[b] - pos[a]))
sys.stdout.write("\n".join(map(str, out)) + "\n")
