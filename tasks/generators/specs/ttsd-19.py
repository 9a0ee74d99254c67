ID = "ttsd-19"
TITLE = "Calm Stretch"
DIFFICULTY = "hard"
DATE = "2026-01-23T00:00:00"
FUNC_NAME = None
STATEMENT = """
A sensor logged N temperature readings t_1, ..., t_N. A stretch is a block of consecutive readings t_l, ..., t_r; it is calm if its highest and lowest readings differ by at most K.

Find the longest calm stretch. If several calm stretches have the maximal length, choose the one that starts earliest.

Input

The first line contains N and K. The second line contains t_1, ..., t_N.

Output

Print two integers: the length of the longest calm stretch and the (1-based) index l at which it starts.
"""
CONSTRAINTS = """
1 <= N <= 200000
0 <= K <= 10^9
0 <= t_i <= 10^9
"""


def case(k, values):
    return f"{len(values)} {k}\n{' '.join(map(str, values))}\n"


def walk(rng, n, start, steps):
    values = [start]
    for _ in range(n - 1):
        values.append(max(0, values[-1] + rng.choice(steps)))
    return values


def public():
    return [case(2, [4, 6, 5, 9, 8, 8, 7, 10]), case(0, [3, 1, 4])]


def private(rng):
    tests = [case(0, [5]), case(0, [2, 2, 2, 2]), case(10**9, [0, 10**9, 7]), case(1, [1, 3, 5, 7])]
    for n, hi, k in [(40, 8, 2), (2000, 10**9, 10**8), (2000, 20, 5)]:
        tests.append(case(k, [rng.randint(0, hi) for _ in range(n)]))
    tests.append(case(30, walk(rng, 3000, 1000, (-1, 0, 1))))
    # Largest last: a slow random walk, so calm stretches are thousands of readings long.
    tests.append(case(200, walk(rng, 30000, 500000, (-1, 0, 1))))
    return tests


def small(rng):
    return case(rng.randint(0, 3), [rng.randint(0, 6) for _ in range(rng.randint(1, 10))])
