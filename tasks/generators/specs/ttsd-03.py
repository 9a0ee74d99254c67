ID = "ttsd-03"
TITLE = "Rain Barrels"
DIFFICULTY = "easy"
DATE = "2026-01-07T00:00:00"
FUNC_NAME = None
STATEMENT = """
N empty rain barrels stand in a row on a slope; barrel i can hold c_i liters. W liters of rain water are poured into barrel 1. Whenever a barrel is full, any further water flowing into it overflows into the next barrel in the row; water overflowing from barrel N is lost on the ground.

After all W liters have been poured, how many barrels are completely full, and how many liters were lost on the ground?

Input

The first line contains N and W. The second line contains c_1, ..., c_N.

Output

Print two integers separated by a space: the number of completely full barrels and the number of liters lost.
"""
CONSTRAINTS = """
1 <= N <= 100000
0 <= W <= 10^18
1 <= c_i <= 10^12
"""


def case(w, caps):
    return f"{len(caps)} {w}\n{' '.join(map(str, caps))}\n"


def public():
    return [case(10, [3, 4, 5]), case(20, [2, 2, 2]), case(0, [5])]


def private(rng):
    tests = [case(7, [7]), case(6, [7]), case(8, [7]), case(12, [3, 4, 5])]
    caps = [rng.randint(1, 10**12) for _ in range(3000)]
    tests.append(case(sum(caps) // 2, caps))
    tests.append(case(10**18, caps))
    caps = [rng.randint(1, 100) for _ in range(1000)]
    tests.append(case(sum(caps[:500]), caps))
    return tests


def small(rng):
    caps = [rng.randint(1, 5) for _ in range(rng.randint(1, 6))]
    return case(rng.randint(0, 30), caps)


def brute(text):
    nums = list(map(int, text.split()))
    n, w, caps = nums[0], nums[1], nums[2:]
    level = [0] * n
    lost = 0
    for _ in range(w):  # one liter at a time
        i = 0
        while i < n and level[i] == caps[i]:
            i += 1
        if i == n:
            lost += 1
        else:
            level[i] += 1
    return f"{sum(level[i] == caps[i] for i in range(n))} {lost}"
