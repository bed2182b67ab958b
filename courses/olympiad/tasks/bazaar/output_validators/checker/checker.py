#!/usr/bin/env python3
"""Output validator for bazaar, called as `checker.py input answer feedback_dir < output`.

Any two different items whose prices add up to S are accepted. "-1" is accepted only
when the jury's answer is "-1" too, i.e. when no such pair exists.
Exit 42: accepted, 43: wrong answer (the reason goes to judgemessage.txt).
"""
import os
import sys


def verdict(accepted: bool, message: str = "") -> None:
    if message:
        with open(os.path.join(sys.argv[3], "judgemessage.txt"), "w") as f:
            f.write(message + "\n")
    sys.exit(42 if accepted else 43)


with open(sys.argv[1]) as f:
    data = f.read().split()
n, s = int(data[0]), int(data[1])
prices = [int(x) for x in data[2:2 + n]]
with open(sys.argv[2]) as f:
    jury_has_pair = f.read().split() != ["-1"]

tokens = sys.stdin.buffer.read().decode("utf-8", "replace").split()
if tokens == ["-1"]:
    if jury_has_pair:
        verdict(False, "printed -1, but a pair with the required sum exists")
    verdict(True)
if len(tokens) != 2:
    verdict(False, f"expected two indices or -1, got {len(tokens)} tokens")
try:
    i, j = int(tokens[0]), int(tokens[1])
except ValueError:
    verdict(False, "the output is not two integers")
if not (1 <= i <= n and 1 <= j <= n):
    verdict(False, f"index out of range: {i} {j}")
if i == j:
    verdict(False, f"the same item {i} is bought twice")
if prices[i - 1] + prices[j - 1] != s:
    verdict(False, f"items {i} and {j} cost {prices[i - 1]} + {prices[j - 1]}, not {s}")
if not jury_has_pair:
    print("the jury says there is no pair, but the contestant found one", file=sys.stderr)
    sys.exit(1)  # the jury's answer is wrong: neither 42 nor 43, so the judge reports an error
verdict(True)
