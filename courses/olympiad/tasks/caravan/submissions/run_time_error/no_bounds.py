#!/usr/bin/env python3
# Crashes: checks only that a step stays above row -1 and column -1, forgetting the bottom and the
# right border of the map, so a step from the last row or column raises IndexError.
from collections import deque

n, m = map(int, input().split())
grid = [input() for _ in range(n)]
start = next((r, c) for r in range(n) for c in range(m) if grid[r][c] == "S")
target = next((r, c) for r in range(n) for c in range(m) if grid[r][c] == "T")
dist = [[-1] * m for _ in range(n)]
dist[start[0]][start[1]] = 0
queue = deque([start])
while queue:
    r, c = queue.popleft()
    for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
        if nr >= 0 and nc >= 0 and grid[nr][nc] != "#" and dist[nr][nc] == -1:
            dist[nr][nc] = dist[r][c] + 1
            queue.append((nr, nc))
print(dist[target[0]][target[1]])
