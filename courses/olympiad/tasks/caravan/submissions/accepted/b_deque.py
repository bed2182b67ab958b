#!/usr/bin/env python3
from collections import deque


def main():
    n, m = map(int, input().split())
    grid = [input() for _ in range(n)]
    for r in range(n):
        for c in range(m):
            if grid[r][c] == "S":
                start = (r, c)
            elif grid[r][c] == "T":
                target = (r, c)
    dist = [[-1] * m for _ in range(n)]
    dist[start[0]][start[1]] = 0
    queue = deque([start])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < n and 0 <= nc < m and grid[nr][nc] != "#" and dist[nr][nc] == -1:
                dist[nr][nc] = dist[r][c] + 1
                queue.append((nr, nc))
    print(dist[target[0]][target[1]])


main()
