#!/usr/bin/env python3
"""Input validator for guess: one whole number from 1 to 10^9 (the secret); exit 42 if so, 43 otherwise."""
import re
import sys

data = sys.stdin.read()
ok = re.fullmatch(r"[1-9]\d{0,9}\n", data) is not None and int(data) <= 10**9
sys.exit(42 if ok else 43)
