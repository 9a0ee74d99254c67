ID = "ttsd-12"
TITLE = "Festival Lights"
DIFFICULTY = "medium"
DATE = "2026-01-16T00:00:00"
FUNC_NAME = None
STATEMENT = """
N lamps hang in a row, numbered 1 to N; all are off. A technician runs M commands; the command "l r" flips every lamp from l to r inclusive (off becomes on, on becomes off).

After all commands, print how many lamps are on and the length of the longest block of consecutive lamps that are all on (0 if no lamp is on).

Input

The first line contains N and M. Each of the next M lines contains l and r.

Output

Print two integers separated by a space.
"""
CONSTRAINTS = """
1 <= N <= 10^6
1 <= M <= 10^5
1 <= l <= r <= N
"""


def case(n, commands):
    return f"{n} {len(commands)}\n" + "".join(f"{l} {r}\n" for l, r in commands)


def rand_commands(rng, n, m):
    out = []
    for _ in range(m):
        a, b = rng.randint(1, n), rng.randint(1, n)
        out.append((min(a, b), max(a, b)))
    return out


def public():
    return [case(10, [(2, 6), (4, 8)]), case(5, [(1, 5), (1, 5)])]


def private(rng):
    tests = [case(1, [(1, 1)]), case(3, [(1, 1), (3, 3)]), case(6, [(1, 3), (4, 6)])]
    for n, m in [(20, 10), (1000, 300), (10**6, 5000), (10**6, 1)]:
        tests.append(case(n, rand_commands(rng, n, m)))
    return tests


def small(rng):
    n = rng.randint(1, 10)
    return case(n, rand_commands(rng, n, rng.randint(1, 5)))


def brute(text):
    nums = list(map(int, text.split()))
    n, m = nums[0], nums[1]
    lamps = [False] * (n + 1)
    for i in range(m):
        for x in range(nums[2 + 2 * i], nums[3 + 2 * i] + 1):
            lamps[x] = not lamps[x]
    longest = run = 0
    for x in range(1, n + 1):
        run = run + 1 if lamps[x] else 0
        longest = max(longest, run)
    return f"{sum(lamps)} {longest}"
