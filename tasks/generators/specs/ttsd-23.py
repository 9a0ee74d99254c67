ID = "ttsd-23"
TITLE = "Quiet Frequencies"
DIFFICULTY = "hard"
DATE = "2026-01-27T00:00:00"
FUNC_NAME = "countQuietPairs"
STARTER = "class Solution:\n    def countQuietPairs(self, freqs: List[int], k: int) -> int:\n        "
STATEMENT = """
A radio receiver lists channel frequencies as non-negative integers in freqs. Two channels at positions i < j interfere quietly if the bitwise XOR of their frequencies is strictly less than k.

Return the number of pairs of positions (i, j) with i < j whose channels interfere quietly.
"""
CONSTRAINTS = """
1 <= freqs.length <= 10^5
0 <= freqs[i] < 2^20
0 <= k <= 2^20
"""


def public():
    return [[[1, 4, 2, 7], 5], [[3, 3, 3], 1], [[0, 1], 0]]


def private(rng):
    tests = [[[5], 7], [[0, 0], 1], [[1048575, 0], 1048576], [[1048575, 0], 1048575], [[6, 6, 7, 7], 2]]
    for n, hi, k in [(40, 15, 6), (2000, 2**20 - 1, 2**19), (2000, 63, 17), (2000, 2**20 - 1, 1)]:
        tests.append([[rng.randint(0, hi) for _ in range(n)], k])
    tests.append([[rng.randint(0, 2**20 - 1) for _ in range(30000)], rng.randint(2**18, 2**19)])
    return tests


def small(rng):
    return [[rng.randint(0, 15) for _ in range(rng.randint(1, 10))], rng.randint(0, 16)]
