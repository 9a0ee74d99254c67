import sys
from collections import deque


def main():
    data = sys.stdin.read().split()
    h, w, k = int(data[0]), int(data[1]), int(data[2])
    grid = data[3 : 3 + h]
    for r in range(h):
        for c in range(w):
            if grid[r][c] == "S":
                start = (r, c)
    # State: (cell, passes used). BFS because every step costs 1.
    seen = [[[False] * (k + 1) for _ in range(w)] for _ in range(h)]
    seen[start[0]][start[1]][0] = True
    queue = deque([(start[0], start[1], 0, 0)])
    while queue:
        r, c, used, dist = queue.popleft()
        if grid[r][c] == "T":
            print(dist)
            return
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < h and 0 <= nc < w:
                nused = used + (grid[nr][nc] == "#")
                if nused <= k and not seen[nr][nc][nused]:
                    seen[nr][nc][nused] = True
                    queue.append((nr, nc, nused, dist + 1))
    print(-1)


main()
