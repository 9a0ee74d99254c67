ID = "ttsd-21"
TITLE = "Sparse Windows"
DIFFICULTY = "hard"
DATE = "2026-01-25T00:00:00"
FUNC_NAME = "countSparseWindows"
STARTER = "class Solution:\n    def countSparseWindows(self, nums: List[int]) -> int:\n        "
STATEMENT = """
A window of nums is a non-empty block of consecutive elements nums[l..r]. A window is sparse if no value occurs in it more than twice.

Return the number of sparse windows of nums.
"""
CONSTRAINTS = """
1 <= nums.length <= 10^5
1 <= nums[i] <= 10^9
"""


def public():
    return [[[1, 2, 1, 1]], [[5, 5, 5, 5]], [[1, 2, 3]]]


def private(rng):
    tests = [[[9]], [[4, 4]], [[1, 1, 2, 2, 1, 1]], [[3, 1, 3, 1, 3, 1]]]
    for n, hi in [(50, 4), (2000, 30), (2000, 10**9), (3000, 2)]:
        tests.append([[rng.randint(1, hi) for _ in range(n)]])
    # Largest last: values almost all distinct, so nearly every window is sparse.
    tests.append([[rng.randint(1, 10**9) for _ in range(30000)]])
    return tests


def small(rng):
    return [[rng.randint(1, 3) for _ in range(rng.randint(1, 10))]]
