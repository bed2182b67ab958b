#!/usr/bin/env python3
"""Input validator for share: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
match = re.fullmatch(r"([1-9]\d{0,5})\n((?:[1-9]\d{0,9} )*[1-9]\d{0,9})\n", data)
ok = match is not None
if ok:
    n, values = int(match[1]), [int(v) for v in match[2].split()]
    ok = 1 <= n <= 10**5 and len(values) == n and all(1 <= v <= 10**9 for v in values)
sys.exit(42 if ok else 43)
