#!/usr/bin/env python3
"""Prints one teatime input "n k c".

--mode random    n, k, c uniform in [1, max]
--mode exact     n*k is a multiple of c
--mode big       c is small and n*k close to 10^18
--n/--k/--c      fix a value (0 means: choose it)
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="random", choices=["random", "exact", "big"])
parser.add_argument("--max", type=int, default=10**9)
parser.add_argument("--n", type=int, default=0)
parser.add_argument("--k", type=int, default=0)
parser.add_argument("--c", type=int, default=0)
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
LIMIT = 10**9

if args.mode == "random":
    n, k, c = (rng.randint(1, args.max) for _ in range(3))
elif args.mode == "exact":
    while True:
        n, k = rng.randint(1, args.max), rng.randint(1, args.max)
        divisors = [d for d in range(1, 2000) if (n * k) % d == 0 and d <= LIMIT]
        c = rng.choice(divisors)
        if c > 1 or len(divisors) == 1:
            break
else:
    n, k, c = rng.randint(LIMIT - 1000, LIMIT), rng.randint(LIMIT - 1000, LIMIT), rng.randint(2, 99)
n, k, c = args.n or n, args.k or k, args.c or c
print(n, k, c)
