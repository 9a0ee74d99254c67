ID = "ttsd-07"
TITLE = "Runner-up Volume"
DIFFICULTY = "easy"
DATE = "2026-01-11T00:00:00"
FUNC_NAME = "runnerUp"
STARTER = "class Solution:\n    def runnerUp(self, volumes: List[int]) -> int:\n        "
STATEMENT = """
A sound engineer recorded the volume of each track of an album in the list volumes. Several tracks may share the same volume.

Return the second-highest distinct volume, that is, the largest value in volumes that is strictly smaller than the maximum. If all tracks have the same volume, return -1.
"""
CONSTRAINTS = """
1 <= volumes.length <= 10^5
-10^9 <= volumes[i] <= 10^9
"""


def public():
    return [[[4, 9, 2, 9, 7]], [[5, 5]], [[-3, -8]]]


def private(rng):
    tests = [[[0]], [[1, 2]], [[2, 1]], [[-1, -1, -2]], [[10**9, -10**9]]]
    for n, lo, hi in [(100, -5, 5), (3000, -10**9, 10**9), (1000, 7, 8)]:
        tests.append([[rng.randint(lo, hi) for _ in range(n)]])
    tests.append([[42] * 5000])
    return tests


def small(rng):
    return [[rng.randint(-4, 4) for _ in range(rng.randint(1, 6))]]


def brute(volumes):
    distinct = sorted(set(volumes))
    return distinct[-2] if len(distinct) > 1 else -1
