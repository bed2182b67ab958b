#!/usr/bin/env python3
# Prefix sums: pos[i] is the distance from village 1 to village i, so a trip a -> b is |pos[b] - pos[a]|.
import sys
from itertools import accumulate

data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
pos = [0, 0] + list(accumulate(map(int, data[2:n + 1])))
trips = list(map(int, data[n + 1:n + 1 + 2 * q]))
sys.stdout.write("\n".join([str(abs(pos[b] - pos[a])) for a, b in zip(trips[::2], trips[1::2])]) + "\n")
