#!/usr/bin/env python3
"""Input validator for teatime: exit 42 if the input is well formed, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
ok = re.fullmatch(r"[1-9]\d{0,9} [1-9]\d{0,9} [1-9]\d{0,9}\n", data) is not None
if ok:
    ok = all(1 <= v <= 10**9 for v in map(int, data.split()))
sys.exit(42 if ok else 43)
