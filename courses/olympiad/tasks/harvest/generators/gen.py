#!/usr/bin/env python3
"""Prints one harvest input.

--mode random     profits uniform in [-V, V]
--mode negative   every field loses money: [-V, -1]
--mode positive   every field earns: [1, V]  (with --n and V = 10^9 the answer is the largest possible)
--mode islands    mostly small losses, with a few profitable stretches separated by big losses
--mode zigzag     alternating +V and -V+1 ... the best segment is long
--mode zeros      values in [-1, 1], many zeros
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="random",
                    choices=["random", "negative", "positive", "islands", "zigzag", "zeros"])
parser.add_argument("--n", type=int, required=True)
parser.add_argument("--v", type=int, default=10**9)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
n, v = args.n, args.v
if args.mode == "random":
    a = [rng.randint(-v, v) for _ in range(n)]
elif args.mode == "negative":
    a = [rng.randint(-v, -1) for _ in range(n)]
elif args.mode == "positive":
    a = [rng.randint(v - v // 100, v) for _ in range(n)]
elif args.mode == "islands":
    a = [rng.randint(-v // 1000, 0) for _ in range(n)]
    for _ in range(max(1, n // 1000)):
        start = rng.randrange(n)
        for i in range(start, min(n, start + rng.randint(1, max(1, n // 20)))):
            a[i] = rng.randint(-v // 2, v)
        a[rng.randrange(n)] = -v
elif args.mode == "zigzag":
    a = [v if i % 2 == 0 else -(v - rng.randint(1, 10)) for i in range(n)]
else:
    a = [rng.randint(-1, 1) for _ in range(n)]
print(n)
print(" ".join(map(str, a)))
