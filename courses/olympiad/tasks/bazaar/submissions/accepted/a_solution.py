#!/usr/bin/env python3
# One pass with a dictionary: for each price, was its complement S - a seen before?
import sys


def main():
    data = sys.stdin.buffer.read().split()
    n, s = int(data[0]), int(data[1])
    seen = {}
    for i in range(n):
        a = int(data[2 + i])
        j = seen.get(s - a)
        if j is not None:
            print(j + 1, i + 1)
            return
        seen[a] = i
    print(-1)


main()
