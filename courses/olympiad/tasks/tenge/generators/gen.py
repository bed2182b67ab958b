#!/usr/bin/env python3
"""Prints one tenge input.

--x X                  the amount to pay
--coins 1,2,5          the denominations (listed in a random order); or
--k K --maxc C         K distinct random denominations in [1, C]
--even                 random denominations are all even (odd X then has no way at all)
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=int, required=True)
parser.add_argument("--coins", default="")
parser.add_argument("--k", type=int, default=10)
parser.add_argument("--maxc", type=int, default=100)
parser.add_argument("--even", action="store_true")
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
if args.coins:
    coins = [int(c) for c in args.coins.split(",")]
else:
    pool = range(2, args.maxc + 1, 2) if args.even else range(1, args.maxc + 1)
    coins = rng.sample(pool, args.k)
rng.shuffle(coins)
print(len(coins), args.x)
print(" ".join(map(str, coins)))
