ID = "ttsd-17"
TITLE = "Signal Towers"
DIFFICULTY = "hard"
DATE = "2026-01-21T00:00:00"
FUNC_NAME = None
STATEMENT = """
N radio towers stand in a straight line, tower i having height h_i. Two different towers i < j can exchange signals if no tower standing strictly between them is taller than the shorter of the two, that is, every tower k with i < k < j has h_k <= min(h_i, h_j). In particular, neighbouring towers can always exchange signals.

Count the pairs of towers that can exchange signals.

Input

The first line contains N. The second line contains h_1, ..., h_N.

Output

Print the number of pairs.
"""
CONSTRAINTS = """
2 <= N <= 200000
1 <= h_i <= 10^9
"""


def case(heights):
    return f"{len(heights)}\n{' '.join(map(str, heights))}\n"


def public():
    return [case([2, 1, 3, 1, 2]), case([4, 4, 4])]


def private(rng):
    tests = [case([1, 2]), case([5, 4, 3, 2, 1]), case([1, 3, 1, 3, 1, 3]), case([2, 2, 1, 2, 2])]
    for n, hi in [(60, 5), (2000, 10**9), (2000, 3)]:
        tests.append(case([rng.randint(1, hi) for _ in range(n)]))
    # Largest last: many towers of the maximal height, so scanning pairs never stops early.
    tests.append(case([1000000 if rng.random() < 0.6 else rng.randint(1, 999999) for _ in range(30000)]))
    return tests


def small(rng):
    return case([rng.randint(1, 4) for _ in range(rng.randint(2, 10))])
