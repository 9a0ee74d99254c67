ID = "ttsd-22"
TITLE = "Gentle Chain"
DIFFICULTY = "hard"
DATE = "2026-01-26T00:00:00"
FUNC_NAME = "longestGentleChain"
STARTER = "class Solution:\n    def longestGentleChain(self, nums: List[int], d: int) -> int:\n        "
STATEMENT = """
A subsequence of nums keeps the original order of the elements it picks. A subsequence is a gentle chain if every two consecutive picked elements differ, and differ by at most d: for consecutive picked values x then y, 1 <= |x - y| <= d. A single element is a gentle chain.

Return the length of the longest gentle chain in nums.
"""
CONSTRAINTS = """
1 <= nums.length <= 10^5
1 <= nums[i] <= 10^9
1 <= d <= 10^9
"""


def public():
    return [[[1, 5, 2, 4, 3], 2], [[7, 7, 7], 5], [[10, 1, 20, 2, 30], 100]]


def private(rng):
    tests = [[[3], 1], [[1, 2], 1], [[1, 3], 1], [[5, 4, 6, 3, 7, 2, 8], 1], [[1, 10**9], 10**9]]
    for n, hi, d in [(40, 10, 2), (2000, 10**9, 10**8), (2000, 50, 3), (2000, 1000, 1)]:
        tests.append([[rng.randint(1, hi) for _ in range(n)], d])
    # Largest last: a wide d, so every pair is a candidate for the naive scan.
    tests.append([[rng.randint(1, 10**9) for _ in range(25000)], 3 * 10**8])
    return tests


def small(rng):
    return [[rng.randint(1, 8) for _ in range(rng.randint(1, 10))], rng.randint(1, 4)]
