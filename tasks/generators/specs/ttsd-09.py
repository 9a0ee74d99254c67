ID = "ttsd-09"
TITLE = "Courier Through Walls"
DIFFICULTY = "medium"
DATE = "2026-01-13T00:00:00"
FUNC_NAME = None
STATEMENT = """
A city block is drawn as a grid of H rows and W columns. Each cell is '.' (street), '#' (building), 'S' (the courier's start, a street) or 'T' (the target, a street). In one step the courier moves to a horizontally or vertically adjacent cell inside the grid.

The courier carries K passes; stepping into a building cell costs one pass (stepping into the same building cell again later costs another one). Streets cost nothing besides the step.

Print the minimum number of steps needed to reach T from S, or -1 if it is impossible.

Input

The first line contains H, W and K. The next H lines each contain W characters describing the grid. There is exactly one S and exactly one T.

Output

Print the minimum number of steps, or -1.
"""
CONSTRAINTS = """
1 <= H, W <= 100
0 <= K <= 3
"""


def case(grid, k):
    return f"{len(grid)} {len(grid[0])} {k}\n" + "".join(row + "\n" for row in grid)


def random_grid(rng, h, w, wall):
    cells = [["#" if rng.random() < wall else "." for _ in range(w)] for _ in range(h)]
    free = [(r, c) for r in range(h) for c in range(w)]
    s, t = rng.sample(free, 2)
    cells[s[0]][s[1]] = "S"
    cells[t[0]][t[1]] = "T"
    return ["".join(row) for row in cells]


def public():
    return [
        case(["S.#.", "..#.", "###T"], 0),
        case(["S#T"], 1),
        case(["S#T"], 0),
    ]


def private(rng):
    tests = [case(["ST"], 0), case(["S", "#", "#", "T"], 1), case(["S", "#", "#", "T"], 2), case(["S##.", "####", "###T"], 3)]
    for h, w, wall, k in [(8, 8, 0.4, 1), (30, 30, 0.35, 2), (100, 100, 0.45, 3), (100, 100, 0.6, 0), (100, 100, 0.7, 3)]:
        tests.append(case(random_grid(rng, h, w, wall), k))
    snake = []  # a long winding corridor: the shortest path without passes is very long
    for r in range(99):
        if r % 2 == 0:
            snake.append("." * 100)
        else:
            snake.append(("#" * 99 + ".") if r % 4 == 1 else ("." + "#" * 99))
    snake[0] = "S" + snake[0][1:]
    snake.append("T" + "." * 99)
    tests.append(case(snake, 0))
    tests.append(case(snake, 2))
    return tests


def small(rng):
    return case(random_grid(rng, rng.randint(1, 4), rng.randint(2, 5), 0.35), rng.randint(0, 2))


def brute(text):
    """Try every set of at most K buildings to demolish, then a plain BFS (passes used once per cell)."""
    from collections import deque
    from itertools import combinations

    lines = text.split("\n")
    h, w, k = map(int, lines[0].split())
    grid = lines[1 : 1 + h]
    walls = [(r, c) for r in range(h) for c in range(w) if grid[r][c] == "#"]
    start = next((r, c) for r in range(h) for c in range(w) if grid[r][c] == "S")
    best = None
    for size in range(k + 1):
        for removed in combinations(walls, size):
            gone = set(removed)
            dist = {start: 0}
            queue = deque([start])
            while queue:
                r, c = queue.popleft()
                for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                    if 0 <= nr < h and 0 <= nc < w and (nr, nc) not in dist and (grid[nr][nc] != "#" or (nr, nc) in gone):
                        dist[(nr, nc)] = dist[(r, c)] + 1
                        queue.append((nr, nc))
            for (r, c), d in dist.items():
                if grid[r][c] == "T" and (best is None or d < best):
                    best = d
    return str(-1 if best is None else best)
