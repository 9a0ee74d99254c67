ID = "ttsd-01"
TITLE = "Lantern Parade"
DIFFICULTY = "easy"
DATE = "2026-01-05T00:00:00"
FUNC_NAME = None
STATEMENT = """
A parade of N lanterns moves down a street, one after another. The i-th lantern has brightness b_i.
A spectator standing at the end of the street notices a lantern only if it is strictly brighter than every lantern that passed before it (the first lantern is always noticed).

How many lanterns does the spectator notice?

Input

The first line contains an integer N. The second line contains N integers b_1, b_2, ..., b_N separated by spaces.

Output

Print the number of noticed lanterns.
"""
CONSTRAINTS = """
1 <= N <= 100000
1 <= b_i <= 10^9
"""


def case(values):
    return f"{len(values)}\n{' '.join(map(str, values))}\n"


def public():
    return [case([3, 1, 4, 1, 5, 9, 2, 6]), case([7, 7, 7])]


def private(rng):
    tests = [case([1]), case([5, 4, 3, 2, 1]), case(list(range(1, 21)))]
    for n, hi in [(10, 5), (100, 50), (1000, 10**9), (3000, 10**9)]:
        tests.append(case([rng.randint(1, hi) for _ in range(n)]))
    return tests


def small(rng):
    return case([rng.randint(1, 6) for _ in range(rng.randint(1, 9))])


def brute(text):
    b = list(map(int, text.split()))[1:]
    return str(sum(all(b[j] < b[i] for j in range(i)) for i in range(len(b))))
