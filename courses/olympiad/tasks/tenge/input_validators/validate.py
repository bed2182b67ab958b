#!/usr/bin/env python3
"""Input validator for tenge: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

INT = r"[1-9]\d*"


def check(data: str) -> bool:
    lines = data.split("\n")
    if len(lines) != 3 or lines[2] != "":
        return False
    if not re.fullmatch(f"{INT} {INT}", lines[0]) or not re.fullmatch(f"{INT}( {INT})*", lines[1]):
        return False
    k, x = map(int, lines[0].split())
    coins = list(map(int, lines[1].split()))
    return (1 <= k <= 10 and 1 <= x <= 10**5 and len(coins) == k and len(set(coins)) == k
            and all(1 <= c <= 10**5 for c in coins))


sys.exit(42 if check(sys.stdin.read()) else 43)
