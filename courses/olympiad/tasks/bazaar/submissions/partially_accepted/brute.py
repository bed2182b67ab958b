#!/usr/bin/env python3
# Tries every pair: O(n^2), fine for subtask 1 only.
import sys

data = sys.stdin.buffer.read().split()
n, s = int(data[0]), int(data[1])
a = list(map(int, data[2:2 + n]))


def find():
    for i in range(n):
        need = s - a[i]
        for j in range(i + 1, n):
            if a[j] == need:
                return f"{i + 1} {j + 1}"
    return "-1"


print(find())
