"""Input validator: one radius 0 < r <= 1000 on a line; exit 42 if so, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
ok = re.fullmatch(r"\d+(\.\d+)?\n", data) is not None and 0 < float(data) <= 1000
sys.exit(42 if ok else 43)
