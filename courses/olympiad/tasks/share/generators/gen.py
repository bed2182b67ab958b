#!/usr/bin/env python3
"""Prints one share input: n, then n coin values.

--mode random   values uniform in [1, 10^9]
--mode whole    only the whole row is fair: every value is 1 modulo n except that they sum to 0 mod n
--mode late     the only fair row is the last coin alone (trying every start is too slow)
--mode ones     every value is 1 (the only fair row is the whole one)
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, required=True)
parser.add_argument("--mode", default="random", choices=["random", "whole", "late", "ones"])
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
n = args.n
if args.mode == "random":
    values = [rng.randint(1, 10**9) for _ in range(n)]
elif args.mode in ("whole", "ones"):
    # prefix sums 1, 2, ..., n-1 (mod n) are all different and non-zero: only the whole row works
    values = [1 + n * rng.randint(0, 10**9 // n - 1) if args.mode == "whole" else 1 for _ in range(n)]
else:  # prefix sums 1, 2, ..., n-1, then n-1 again: only the row n..n is fair
    values = [1 + n * rng.randint(0, 10**9 // n - 1) for _ in range(n - 1)] + [n * rng.randint(1, 10**9 // n)]
print(n)
print(*values)
