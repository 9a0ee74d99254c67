ID = "ttsd-10"
TITLE = "Limited Coin Towers"
DIFFICULTY = "medium"
DATE = "2026-01-14T00:00:00"
FUNC_NAME = None
STATEMENT = """
A collector owns D kinds of coins. A coin of kind i is worth v_i, and the collector owns exactly l_i coins of that kind. Coins of the same kind are indistinguishable.

In how many different ways can the collector choose coins whose total worth is exactly N? Two ways differ if some kind of coin is used a different number of times. Print the answer modulo 1000000007.

Input

The first line contains N and D. Each of the next D lines contains v_i and l_i.

Output

Print the number of ways modulo 1000000007.
"""
CONSTRAINTS = """
1 <= N <= 20000
1 <= D <= 20
1 <= v_i <= N
1 <= l_i <= 20000
The values v_i are not necessarily distinct (coins of different kinds may have the same worth).
"""


def case(n, coins):
    return f"{n} {len(coins)}\n" + "".join(f"{v} {l}\n" for v, l in coins)


def public():
    return [case(10, [(1, 3), (2, 2), (5, 1)]), case(7, [(2, 10)]), case(6, [(3, 1), (3, 1)])]


def private(rng):
    tests = [case(1, [(1, 1)]), case(5, [(5, 1), (1, 5)]), case(100, [(1, 100)])]
    for n, d, lim in [(50, 4, 5), (1000, 10, 30), (20000, 20, 20000), (20000, 20, 3), (19999, 15, 400)]:
        tests.append(case(n, [(rng.randint(1, max(1, n // rng.randint(1, 50))), rng.randint(1, lim)) for _ in range(d)]))
    return tests


def small(rng):
    return case(rng.randint(1, 15), [(rng.randint(1, 6), rng.randint(1, 4)) for _ in range(rng.randint(1, 4))])


def brute(text):
    nums = list(map(int, text.split()))
    n, d = nums[0], nums[1]
    coins = [(nums[2 + 2 * i], nums[3 + 2 * i]) for i in range(d)]

    def ways(i, remaining):
        if i == d:
            return 1 if remaining == 0 else 0
        v, l = coins[i]
        return sum(ways(i + 1, remaining - k * v) for k in range(l + 1) if k * v <= remaining)

    return str(ways(0, n) % 1000000007)
