#!/usr/bin/env python3
# Wrong: lets the caravan move diagonally too (eight directions instead of four).
from collections import deque

n, m = map(int, input().split())
grid = [input() for _ in range(n)]
start = next((r, c) for r in range(n) for c in range(m) if grid[r][c] == "S")
target = next((r, c) for r in range(n) for c in range(m) if grid[r][c] == "T")
dist = {start: 0}
queue = deque([start])
while queue:
    r, c = queue.popleft()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            nr, nc = r + dr, c + dc
            if 0 <= nr < n and 0 <= nc < m and grid[nr][nc] != "#" and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
print(dist.get(target, -1))
