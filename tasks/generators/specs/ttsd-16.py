ID = "ttsd-16"
TITLE = "Rising Tide Islands"
DIFFICULTY = "medium"
DATE = "2026-01-20T00:00:00"
FUNC_NAME = "islandsAtLevels"
STARTER = "class Solution:\n    def islandsAtLevels(self, grid: List[List[int]], levels: List[int]) -> List[int]:\n        "
STATEMENT = """
grid is a height map of a coastal area: grid[r][c] is the altitude of a square cell. When the sea stands at level L, a cell is dry if its altitude is strictly greater than L. An island is a maximal group of dry cells connected through shared edges (not corners).

For each level in levels, count the islands when the sea stands at that level. Return the counts in the same order as levels.
"""
CONSTRAINTS = """
1 <= grid.length, grid[0].length <= 80
0 <= grid[r][c] <= 10^6
1 <= levels.length <= 80
0 <= levels[i] <= 10^6
"""


def public():
    return [
        [[[1, 3, 1], [3, 1, 3], [1, 3, 1]], [0, 1, 2, 3]],
        [[[5, 5], [5, 5]], [4, 5]],
    ]


def private(rng):
    tests = [[[[0]], [0]], [[[7]], [6, 7, 0]], [[[2, 1, 2, 1, 2]], [1, 1, 0]]]
    for h, w, hi, q in [(6, 7, 4, 5), (40, 40, 9, 10), (80, 80, 1000, 60), (80, 80, 3, 4)]:
        grid = [[rng.randint(0, hi) for _ in range(w)] for _ in range(h)]
        tests.append([grid, [rng.randint(0, hi) for _ in range(q)]])
    return tests


def small(rng):
    h, w = rng.randint(1, 4), rng.randint(1, 4)
    return [[[rng.randint(0, 3) for _ in range(w)] for _ in range(h)], [rng.randint(0, 3) for _ in range(rng.randint(1, 3))]]


def brute(grid, levels):
    """Union-find per level (the reference floods with a BFS instead)."""
    h, w = len(grid), len(grid[0])
    out = []
    for level in levels:
        parent = list(range(h * w))

        def find(x):
            while parent[x] != x:
                x = parent[x]
            return x

        for r in range(h):
            for c in range(w):
                if grid[r][c] > level:
                    for nr, nc in ((r + 1, c), (r, c + 1)):
                        if nr < h and nc < w and grid[nr][nc] > level:
                            parent[find(r * w + c)] = find(nr * w + nc)
        out.append(len({find(r * w + c) for r in range(h) for c in range(w) if grid[r][c] > level}))
    return out
