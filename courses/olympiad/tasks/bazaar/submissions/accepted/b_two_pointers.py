#!/usr/bin/env python3
# Sort the items by price and move two pointers towards each other.
# Each item is packed into one integer, price * 2^18 + index, so that sorting is fast.
import sys

data = sys.stdin.buffer.read().split()
n, s = int(data[0]), int(data[1])
items = sorted((int(data[2 + i]) << 18) | i for i in range(n))
mask = (1 << 18) - 1
lo, hi = 0, n - 1
answer = "-1"
while lo < hi:
    total = (items[lo] >> 18) + (items[hi] >> 18)
    if total == s:
        answer = f"{(items[hi] & mask) + 1} {(items[lo] & mask) + 1}"
        break
    if total < s:
        lo += 1
    else:
        hi -= 1
print(answer)
