#!/usr/bin/env python3
# Wrong: starts from 0, as if renting no field at all were allowed (fails when every field loses money).
import sys

data = sys.stdin.buffer.read().split()
n = int(data[0])
best = current = 0
for x in map(int, data[1:n + 1]):
    current = max(0, current + x)
    best = max(best, current)
print(best)
