#!/usr/bin/env python3
"""Input validator for steppe: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

MAX_N, MAX_Q, MAX_D = 10**5, 10**5, 10**9
INT = r"[1-9]\d*"


def check(data: str) -> bool:
    if not data.endswith("\n"):
        return False
    lines = data[:-1].split("\n")
    if not re.fullmatch(f"{INT} {INT}", lines[0]):
        return False
    n, q = map(int, lines[0].split())
    if not (2 <= n <= MAX_N and 1 <= q <= MAX_Q) or len(lines) != q + 2:
        return False
    if not re.fullmatch(f"{INT}( {INT})*", lines[1]):
        return False
    d = list(map(int, lines[1].split()))
    if len(d) != n - 1 or not all(1 <= x <= MAX_D for x in d):
        return False
    pair = re.compile(f"({INT}) ({INT})")
    for line in lines[2:]:
        m = pair.fullmatch(line)
        if not m or not (1 <= int(m[1]) <= n and 1 <= int(m[2]) <= n):
            return False
    return True


sys.exit(42 if check(sys.stdin.read()) else 43)
