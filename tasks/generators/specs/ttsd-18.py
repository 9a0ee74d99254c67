ID = "ttsd-18"
TITLE = "Steep Descents"
DIFFICULTY = "hard"
DATE = "2026-01-22T00:00:00"
FUNC_NAME = None
STATEMENT = """
A cyclist records the altitude a_1, ..., a_N at N checkpoints along a route, in riding order. A pair of checkpoints i < j is a steep descent if the altitude drops by strictly more than K from checkpoint i to checkpoint j, that is, a_i - a_j > K.

Count the steep descents.

Input

The first line contains N and K. The second line contains a_1, ..., a_N.

Output

Print the number of pairs (i, j) with i < j and a_i - a_j > K.
"""
CONSTRAINTS = """
1 <= N <= 200000
0 <= K <= 10^9
0 <= a_i <= 10^9
"""


def case(k, values):
    return f"{len(values)} {k}\n{' '.join(map(str, values))}\n"


def public():
    return [case(1, [5, 3, 4, 1, 2]), case(0, [1, 2, 3])]


def private(rng):
    tests = [case(0, [7]), case(0, [3, 3, 3]), case(0, [3, 2, 1]), case(2, [3, 2, 1]), case(10**9, [10**9, 0]), case(10**9 - 1, [10**9, 0])]
    for n, hi, k in [(50, 10, 2), (2000, 10**9, 10**8), (2000, 100, 0)]:
        tests.append(case(k, [rng.randint(0, hi) for _ in range(n)]))
    tests.append(case(12345, [rng.randint(0, 999999) for _ in range(30000)]))
    return tests


def small(rng):
    return case(rng.randint(0, 3), [rng.randint(0, 6) for _ in range(rng.randint(1, 10))])
