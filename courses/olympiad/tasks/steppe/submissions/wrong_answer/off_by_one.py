#!/usr/bin/env python3
# Wrong: sums one road segment too many (d[a-1] .. d[b-1] instead of d[a-1] .. d[b-2]).
import sys

data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
d = [int(x) for x in data[2:n + 1]] + [0]
pref = [0]
for x in d:
    pref.append(pref[-1] + x)
out = []
k = n + 1
for _ in range(q):
    a, b = sorted((int(data[k]), int(data[k + 1])))
    k += 2
    out.append(pref[b] - pref[a - 1])
print("\n".join(map(str, out)))
