#!/usr/bin/env python3
from itertools import accumulate
import sys


def main():
    n, q = map(int, sys.stdin.readline().split())
    d = list(map(int, sys.stdin.readline().split()))
    pos = [0, 0] + list(accumulate(d))  # pos[i] for villages 1..n
    answers = []
    for _ in range(q):
        a, b = map(int, sys.stdin.readline().split())
        if a > b:
            a, b = b, a
        answers.append(pos[b] - pos[a])
    print("\n".join(map(str, answers)))


main()
