#!/usr/bin/env python3
# Wrong: adds one refill even when the bowls fill the samovar exactly.
n, k, c = map(int, input().split())
print(n * k // c + 1)
