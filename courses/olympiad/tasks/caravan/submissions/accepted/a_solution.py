#!/usr/bin/env python3
# Breadth-first search on the grid, flattened into one list and framed by rocks.
import sys


def main():
    data = sys.stdin.buffer.read().split()
    n, m = int(data[0]), int(data[1])
    w = m + 2
    cells = bytearray(b"#" * (w * (n + 2)))
    for r in range(n):
        cells[(r + 1) * w + 1:(r + 1) * w + 1 + m] = data[2 + r]
    start, target = cells.find(b"S"), cells.find(b"T")
    dist = [-1] * len(cells)
    dist[start] = 0
    queue = [start]
    moves = (1, -1, w, -w)
    rock = ord("#")
    for v in queue:  # the list grows while we walk through it
        if v == target:
            break
        d = dist[v] + 1
        for step in moves:
            u = v + step
            if dist[u] < 0 and cells[u] != rock:
                dist[u] = d
                queue.append(u)
    print(dist[target])


main()
