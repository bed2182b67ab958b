"""Input validator: n (1..1000), then n integers of at most 10^9 in absolute value; exit 42 if so, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
match = re.fullmatch(r"([1-9]\d*)\n(-?\d+(?: -?\d+)*)\n", data)
ok = match is not None
if ok:
    n, values = int(match[1]), [int(v) for v in match[2].split()]
    ok = 1 <= n <= 1000 and len(values) == n and all(abs(v) <= 10**9 for v in values)
sys.exit(42 if ok else 43)
