ID = "ttsd-24"
TITLE = "Total Spread"
DIFFICULTY = "hard"
DATE = "2026-01-28T00:00:00"
FUNC_NAME = "totalSpread"
STARTER = "class Solution:\n    def totalSpread(self, prices: List[int]) -> int:\n        "
STATEMENT = """
prices[i] is the price of a stock on day i. The spread of a period of consecutive days is the highest price in the period minus the lowest price in the period (a period of one day has spread 0).

Return the sum of the spreads of all periods of consecutive days. The answer can be large; return it exactly.
"""
CONSTRAINTS = """
1 <= prices.length <= 10^5
0 <= prices[i] <= 10^9
"""


def public():
    return [[[1, 3, 2]], [[4, 4, 4]], [[5]]]


def private(rng):
    tests = [[[1, 2]], [[2, 1]], [[3, 1, 3, 1]], [[10**9, 0, 10**9]], [list(range(100))]]
    for n, hi in [(40, 5), (2000, 10**9), (3000, 3)]:
        tests.append([[rng.randint(0, hi) for _ in range(n)]])
    tests.append([[rng.randint(0, 10**6) for _ in range(30000)]])
    return tests


def small(rng):
    return [[rng.randint(0, 5) for _ in range(rng.randint(1, 10))]]
