#!/usr/bin/env python3
# Kadane: the best segment ending at field i either continues the best one ending at i-1 or starts anew.
import sys

data = sys.stdin.buffer.read().split()
n = int(data[0])
best = current = int(data[1])
for x in map(int, data[2:n + 1]):
    current = x if current < 0 else current + x
    if current > best:
        best = current
print(best)
