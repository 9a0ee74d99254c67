ID = "ttsd-11"
TITLE = "Busiest Moment"
DIFFICULTY = "medium"
DATE = "2026-01-15T00:00:00"
FUNC_NAME = None
STATEMENT = """
A conference center logs N bookings. Booking i brings p_i people into the building from time s_i (inclusive) until time e_i (exclusive), so at time e_i those people are already gone.

Find the largest number of people that are in the building at the same moment, and the earliest integer time at which that number is reached.

Input

The first line contains N. Each of the next N lines contains s_i, e_i and p_i.

Output

Print two integers: the maximum number of people present at once, and the earliest time it happens.
"""
CONSTRAINTS = """
1 <= N <= 100000
0 <= s_i < e_i <= 10^9
1 <= p_i <= 10^4
"""


def case(bookings):
    return f"{len(bookings)}\n" + "".join(f"{s} {e} {p}\n" for s, e, p in bookings)


def rand_bookings(rng, n, horizon, length, people):
    out = []
    for _ in range(n):
        s = rng.randint(0, horizon - 1)
        out.append((s, min(horizon, s + rng.randint(1, length)), rng.randint(1, people)))
    return out


def public():
    return [case([(1, 5, 3), (2, 6, 2), (5, 8, 4)]), case([(0, 10, 1), (10, 20, 1)])]


def private(rng):
    tests = [case([(0, 1, 7)]), case([(3, 4, 1), (0, 3, 1), (4, 9, 1)]), case([(5, 10, 2), (0, 5, 2), (5, 6, 1)])]
    for n, horizon, length, people in [(100, 50, 10, 5), (5000, 10**9, 10**8, 10**4), (5000, 1000, 30, 3)]:
        tests.append(case(rand_bookings(rng, n, horizon, length, people)))
    return tests


def small(rng):
    return case(rand_bookings(rng, rng.randint(1, 6), 12, 5, 3))


def brute(text):
    nums = list(map(int, text.split()))
    bookings = [nums[1 + 3 * i : 4 + 3 * i] for i in range(nums[0])]
    best, when = -1, None
    for t in range(0, max(e for _, e, _ in bookings) + 1):
        here = sum(p for s, e, p in bookings if s <= t < e)
        if here > best:
            best, when = here, t
    return f"{best} {when}"
