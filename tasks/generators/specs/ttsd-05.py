ID = "ttsd-05"
TITLE = "Trail Hollows"
DIFFICULTY = "easy"
DATE = "2026-01-09T00:00:00"
FUNC_NAME = "countHollows"
STARTER = "class Solution:\n    def countHollows(self, heights: List[int]) -> int:\n        "
STATEMENT = """
A hiking trail has marker posts at equal distances; heights[i] is the altitude at the i-th post.
A hollow is a maximal block of consecutive posts that all have the same altitude, such that the post just before the block and the post just after the block both exist and are both strictly higher than the block.

Return the number of hollows on the trail.
"""
CONSTRAINTS = """
1 <= heights.length <= 10^5
0 <= heights[i] <= 10^9
"""


def public():
    return [[[5, 3, 4, 2, 2, 6]], [[1, 2, 3]], [[4, 1, 1, 1, 4, 4, 0]]]


def private(rng):
    tests = [[[7]], [[3, 3]], [[2, 1, 2]], [[1, 2, 1]], [[5, 5, 1, 5, 5, 1, 1, 5]]]
    for n, hi in [(50, 3), (1000, 4), (3000, 10**9), (3000, 2)]:
        tests.append([[rng.randint(0, hi) for _ in range(n)]])
    return tests


def small(rng):
    return [[rng.randint(0, 3) for _ in range(rng.randint(1, 10))]]


def brute(heights):
    count = 0
    n = len(heights)
    for start in range(n):
        for end in range(start, n):
            block = heights[start : end + 1]
            if len(set(block)) != 1:
                break
            if start > 0 and end < n - 1 and heights[start - 1] > block[0] and heights[end + 1] > block[0]:
                count += 1
    return count
