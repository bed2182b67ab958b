#!/usr/bin/env python3
n, k, c = map(int, input().split())
print((n * k + c - 1) // c)
