#!/usr/bin/env python3
# Wrong: always offers the whole row, which is fair only when the total is a multiple of n.
n = int(input())
print(1, n)
