#!/usr/bin/env python3
# The sum of fields l+1..r is P[r] - P[l]: for every r subtract the smallest earlier prefix sum.
import sys


def main():
    n = int(sys.stdin.readline())
    a = list(map(int, sys.stdin.readline().split()))
    prefix = 0
    smallest = 0  # P[0]
    best = None
    for x in a:
        prefix += x
        if best is None or prefix - smallest > best:
            best = prefix - smallest
        if prefix < smallest:
            smallest = prefix
    print(best)


main()
