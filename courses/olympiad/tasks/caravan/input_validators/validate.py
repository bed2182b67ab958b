#!/usr/bin/env python3
"""Input validator for caravan: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

MAX = 300


def check(data: str) -> bool:
    lines = data.split("\n")
    if not lines or lines[-1] != "" or not re.fullmatch(r"[1-9]\d* [1-9]\d*", lines[0]):
        return False
    n, m = map(int, lines[0].split())
    if not (1 <= n <= MAX and 1 <= m <= MAX) or len(lines) != n + 2:
        return False
    rows = lines[1:-1]
    if not all(re.fullmatch(r"[.#ST]{%d}" % m, row) for row in rows):
        return False
    text = "".join(rows)
    return text.count("S") == 1 and text.count("T") == 1


sys.exit(42 if check(sys.stdin.read()) else 43)
