ID = "ttsd-20"
TITLE = "Print Shop Batches"
DIFFICULTY = "hard"
DATE = "2026-01-24T00:00:00"
FUNC_NAME = None
STATEMENT = """
A print shop must print N jobs in the given order; job i has a_i pages. The jobs are split into batches of consecutive jobs (every job in exactly one batch). Setting the machine up for a batch costs C, and because the machine heats up, a batch with P pages in total costs P * P more. So a batch costs P * P + C.

Find the minimum total cost of printing all jobs.

Input

The first line contains N and C. The second line contains a_1, ..., a_N.

Output

Print the minimum total cost.
"""
CONSTRAINTS = """
1 <= N <= 200000
0 <= C <= 10^12
1 <= a_i <= 100
"""


def case(c, pages):
    return f"{len(pages)} {c}\n{' '.join(map(str, pages))}\n"


def public():
    return [case(10, [1, 2, 3, 4]), case(0, [5, 5, 5]), case(1000, [3, 3])]


def private(rng):
    tests = [case(0, [1]), case(7, [100]), case(10**12, [100] * 10), case(5, [1] * 20)]
    for n, hi, c in [(40, 10, 30), (2000, 100, 10**6), (2000, 5, 0), (3000, 100, 10**12)]:
        tests.append(case(c, [rng.randint(1, hi) for _ in range(n)]))
    # Largest last: setup is expensive, so optimal batches hold thousands of jobs.
    tests.append(case(4 * 10**11, [rng.randint(1, 100) for _ in range(30000)]))
    return tests


def small(rng):
    return case(rng.randint(0, 60), [rng.randint(1, 9) for _ in range(rng.randint(1, 9))])
