"""Input validator: one whole number 1..100 on a line; exit 42 if so, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
sys.exit(42 if re.fullmatch(r"[1-9]\d*\n", data) and int(data) <= 100 else 43)
