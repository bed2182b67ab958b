#!/usr/bin/env python3
"""Prints one bazaar input.

--mode random   random prices; S is the sum of two random items (a pair exists)
--mode none     no two different items add up to S (with --trap one item costs exactly S/2)
--mode last     the only pair is formed by the last two items
--mode equal    the only pair is two items of equal price S/2, at random places
--n N --maxv V  number of items, prices in [1, V];  --s S fixes S (else random)
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="random", choices=["random", "none", "last", "equal"])
parser.add_argument("--n", type=int, required=True)
parser.add_argument("--maxv", type=int, default=10**9)
parser.add_argument("--s", type=int, default=0)
parser.add_argument("--trap", action="store_true")
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
n, maxv = args.n, args.maxv


def without_pairs(count: int, s: int, used: set) -> list[int]:
    """count prices in [1, maxv], no two of them (nor one with `used`) adding up to s."""
    out = []
    while len(out) < count:
        v = rng.randint(1, maxv)
        if 2 * v == s or (s - v) in used:
            continue
        used.add(v)
        out.append(v)
    return out


if args.mode == "random":
    a = [rng.randint(1, maxv) for _ in range(n)]
    i, j = rng.sample(range(n), 2)
    s = args.s or a[i] + a[j]
else:
    s = args.s or 2 * rng.randint(maxv // 4, maxv // 2)  # even, so that S/2 is a price
    used = set()
    if args.mode == "none":
        a = without_pairs(n - 1 if args.trap else n, s, used)
        if args.trap:
            a.insert(rng.randint(0, n - 1), s // 2)
    elif args.mode == "last":
        a = without_pairs(n - 2, s, used)
        while True:
            x = rng.randint(max(1, s - maxv), min(maxv, s - 1))
            if 2 * x != s and x not in used and s - x not in used:
                break
        a += [x, s - x]
    else:  # equal
        a = without_pairs(n - 2, s, used | {s // 2})
        i, j = sorted(rng.sample(range(n), 2))
        a.insert(i, s // 2)
        a.insert(j, s // 2)
print(n, s)
print(" ".join(map(str, a)))
