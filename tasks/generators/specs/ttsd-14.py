ID = "ttsd-14"
TITLE = "Sawtooth Subsequence"
DIFFICULTY = "medium"
DATE = "2026-01-18T00:00:00"
FUNC_NAME = "longestSawtooth"
STARTER = "class Solution:\n    def longestSawtooth(self, nums: List[int]) -> int:\n        "
STATEMENT = """
A sequence is a sawtooth if every two consecutive elements differ, and the differences between consecutive elements strictly alternate in sign (up, down, up, ... or down, up, down, ...). A sequence of one element is a sawtooth; a sequence of two different elements is a sawtooth.

Given nums, return the length of its longest subsequence that is a sawtooth. A subsequence keeps the original order but may skip elements.
"""
CONSTRAINTS = """
1 <= nums.length <= 10^5
-10^9 <= nums[i] <= 10^9
"""


def public():
    return [[[1, 5, 3, 3, 4, 2]], [[2, 2, 2]], [[1, 2, 3, 4, 5]]]


def private(rng):
    tests = [[[7]], [[1, 2]], [[2, 1, 2, 1, 2]], [[5, 5, 6, 6, 5, 5]]]
    for n, lo, hi in [(15, 0, 3), (1000, -5, 5), (3000, -10**9, 10**9), (3000, 0, 1)]:
        tests.append([[rng.randint(lo, hi) for _ in range(n)]])
    tests.append([list(range(2000)) + list(range(2000, 0, -1))])
    return tests


def small(rng):
    return [[rng.randint(0, 4) for _ in range(rng.randint(1, 11))]]


def brute(nums):
    """Every subsequence, checked directly."""
    n = len(nums)
    best = 1
    for mask in range(1, 1 << n):
        seq = [nums[i] for i in range(n) if mask >> i & 1]
        diffs = [b - a for a, b in zip(seq, seq[1:])]
        if all(d != 0 for d in diffs) and all((x > 0) != (y > 0) for x, y in zip(diffs, diffs[1:])):
            best = max(best, len(seq))
    return best
