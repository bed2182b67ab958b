#!/usr/bin/env python3
# Too slow: sweeps the whole map again and again, improving distances, until nothing changes.
# On a winding maze this needs thousands of sweeps.
n, m = map(int, input().split())
grid = [input() for _ in range(n)]
INF = 10**9
dist = [[INF] * m for _ in range(n)]
for r in range(n):
    for c in range(m):
        if grid[r][c] == "S":
            dist[r][c] = 0
        if grid[r][c] == "T":
            target = (r, c)
changed = True
while changed:
    changed = False
    for r in range(n):
        for c in range(m):
            if grid[r][c] == "#":
                continue
            best = dist[r][c]
            if r > 0 and dist[r - 1][c] + 1 < best:
                best = dist[r - 1][c] + 1
            if r + 1 < n and dist[r + 1][c] + 1 < best:
                best = dist[r + 1][c] + 1
            if c > 0 and dist[r][c - 1] + 1 < best:
                best = dist[r][c - 1] + 1
            if c + 1 < m and dist[r][c + 1] + 1 < best:
                best = dist[r][c + 1] + 1
            if best < dist[r][c]:
                dist[r][c] = best
                changed = True
answer = dist[target[0]][target[1]]
print(answer if answer < INF else -1)
