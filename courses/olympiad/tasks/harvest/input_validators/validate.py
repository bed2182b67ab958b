#!/usr/bin/env python3
"""Input validator for harvest: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

NUM = r"(?:0|-?[1-9]\d*)"


def check(data: str) -> bool:
    lines = data.split("\n")
    if len(lines) != 3 or lines[2] != "":
        return False
    if not re.fullmatch(r"[1-9]\d*", lines[0]) or not re.fullmatch(f"{NUM}( {NUM})*", lines[1]):
        return False
    n = int(lines[0])
    a = list(map(int, lines[1].split()))
    return 1 <= n <= 2 * 10**5 and len(a) == n and all(-10**9 <= x <= 10**9 for x in a)


sys.exit(42 if check(sys.stdin.read()) else 43)
