#!/usr/bin/env python3
"""Input validator for bazaar: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

INT = r"[1-9]\d*"


def check(data: str) -> bool:
    lines = data.split("\n")
    if len(lines) != 3 or lines[2] != "":
        return False
    if not re.fullmatch(f"{INT} {INT}", lines[0]) or not re.fullmatch(f"{INT}( {INT})*", lines[1]):
        return False
    n, s = map(int, lines[0].split())
    a = list(map(int, lines[1].split()))
    return 2 <= n <= 2 * 10**5 and 1 <= s <= 2 * 10**9 and len(a) == n and all(1 <= x <= 10**9 for x in a)


sys.exit(42 if check(sys.stdin.read()) else 43)
