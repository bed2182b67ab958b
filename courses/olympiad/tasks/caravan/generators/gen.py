#!/usr/bin/env python3
"""Prints one caravan map.

--mode random   rocks with probability --p, S and T on random free cells
--mode open     no rocks, S and T in opposite corners
--mode snake    a winding corridor: rock rows with a gap at alternate ends (the path is very long)
--mode walled   like random, but T is closed in by a ring of rocks (the answer is -1)
--transpose     swap rows and columns (a snake then winds vertically)
--wall          (with random) a solid rock line splits the map; S above it, T below it (-1)
"""
import argparse
import random

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="random", choices=["random", "open", "snake", "walled"])
parser.add_argument("--n", type=int, required=True)
parser.add_argument("--m", type=int, required=True)
parser.add_argument("--p", type=float, default=0.3)
parser.add_argument("--transpose", action="store_true")
parser.add_argument("--wall", action="store_true")
parser.add_argument("--seed", type=int, default=1)
args = parser.parse_args()
rng = random.Random(args.seed)
n, m = (args.m, args.n) if args.transpose else (args.n, args.m)


def free_cell(g, rows):
    while True:
        r, c = rng.choice(rows), rng.randrange(m)
        if g[r][c] == ".":
            return r, c


if args.mode == "open":
    g = [["."] * m for _ in range(n)]
    g[0][0], g[n - 1][m - 1] = "S", "T"
elif args.mode == "snake":
    g = [["."] * m for _ in range(n)]
    for r in range(1, n, 2):
        g[r] = ["#"] * m
        g[r][m - 1 if r % 4 == 1 else 0] = "."
    g[0][0] = "S"
    last = n - 1 if (n - 1) % 2 == 0 else n - 2
    g[last][m - 1 if (last // 2) % 2 == 0 else 0] = "T"
else:
    g = [["#" if rng.random() < args.p else "." for _ in range(m)] for _ in range(n)]
    upper, lower = list(range(n)), list(range(n))
    if args.wall:
        mid = n // 2
        g[mid] = ["#"] * m
        upper, lower = list(range(mid)), list(range(mid + 1, n))
    sr, sc = free_cell(g, upper)
    g[sr][sc] = "S"
    tr, tc = free_cell(g, lower)
    g[tr][tc] = "T"
    if args.mode == "walled":
        for r in range(tr - 1, tr + 2):
            for c in range(tc - 1, tc + 2):
                if 0 <= r < n and 0 <= c < m and (r, c) != (tr, tc):
                    g[r][c] = "#"
if args.transpose:
    g = [list(col) for col in zip(*g)]
    n, m = m, n
print(n, m)
print("\n".join("".join(row) for row in g))
