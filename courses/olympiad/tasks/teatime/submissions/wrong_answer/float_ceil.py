#!/usr/bin/env python3
# Wrong: floating-point division loses precision when n*k is about 10^18.
import math

n, k, c = map(int, input().split())
print(math.ceil(n * k / c))
