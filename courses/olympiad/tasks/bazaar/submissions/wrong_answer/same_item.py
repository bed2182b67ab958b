#!/usr/bin/env python3
# Wrong: may buy the same item twice when its price is exactly S/2.
import sys

data = sys.stdin.buffer.read().split()
n, s = int(data[0]), int(data[1])
a = list(map(int, data[2:2 + n]))
where = {v: i for i, v in enumerate(a)}
for i, v in enumerate(a):
    if s - v in where:
        print(i + 1, where[s - v] + 1)
        break
else:
    print(-1)
