#!/usr/bin/env python3
# Prefix sums modulo n: the first repeated remainder (or a zero one) closes a fair row. O(n).
import sys

data = sys.stdin.buffer.read().split()
n = int(data[0])
seen = {0: 0}
total = 0
for i in range(1, n + 1):
    total = (total + int(data[i])) % n
    if total in seen:
        print(seen[total] + 1, i)
        break
    seen[total] = i
