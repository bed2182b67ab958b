#!/usr/bin/env python3
"""Prints one steppe input.

--n N --q Q        numbers of villages and trips
--maxd D           road segments are in [1, D]
--trips MODE       random: any two villages; far: one end near each end of the road;
                   same: some trips start and end in the same village
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, required=True)
parser.add_argument("--q", type=int, required=True)
parser.add_argument("--maxd", type=int, default=10**9)
parser.add_argument("--trips", default="random", choices=["random", "far", "same"])
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
n, q = args.n, args.q
d = [rng.randint(1, args.maxd) for _ in range(n - 1)]
lines = [f"{n} {q}", " ".join(map(str, d))]
edge = max(1, n // 10)
for _ in range(q):
    if args.trips == "far":
        a, b = rng.randint(1, edge), rng.randint(n - edge + 1, n)
        if rng.random() < 0.5:
            a, b = b, a
    else:
        a, b = rng.randint(1, n), rng.randint(1, n)
        if args.trips == "same" and rng.random() < 0.3:
            b = a
    lines.append(f"{a} {b}")
print("\n".join(lines))
