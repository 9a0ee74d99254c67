ID = "ttsd-02"
TITLE = "Digit Seesaw"
DIFFICULTY = "easy"
DATE = "2026-01-06T00:00:00"
FUNC_NAME = None
STATEMENT = """
Place the digits of a positive integer on a seesaw: counting positions from the left starting at 1, digits at odd positions sit on the left arm and digits at even positions sit on the right arm. The weight of a digit is its value.

For each given integer, print BALANCED if both arms carry the same total weight. Otherwise print the total weight of the left arm minus the total weight of the right arm (this may be negative).

Input

The first line contains T, the number of integers. Each of the next T lines contains one integer without leading zeros.

Output

Print T lines, the answer for each integer in order.
"""
CONSTRAINTS = """
1 <= T <= 1000
Each integer has between 1 and 100 digits and no leading zeros.
"""


def case(numbers):
    return f"{len(numbers)}\n" + "".join(f"{x}\n" for x in numbers)


def public():
    return [case(["121", "1210", "5", "918273645"])]


def rand_number(rng, digits):
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))


def private(rng):
    tests = [case(["11", "1", "10", "99", "909", "1111111111"])]
    tests.append(case([rand_number(rng, rng.randint(1, 6)) for _ in range(200)]))
    tests.append(case([rand_number(rng, rng.randint(50, 100)) for _ in range(300)]))
    balanced = []
    for _ in range(300):  # force many balanced numbers so that branch is exercised
        half = [rng.randint(0, 9) for _ in range(rng.randint(1, 20))]
        digits = []
        for d in half:
            digits += [d, d]
        if digits[0] == 0:
            digits[0] = digits[1] = 7
        balanced.append("".join(map(str, digits)))
    tests.append(case(balanced))
    return tests


def small(rng):
    return case([rand_number(rng, rng.randint(1, 5)) for _ in range(rng.randint(1, 5))])


def brute(text):
    out = []
    for s in text.split()[1:]:
        left = sum(int(s[i]) for i in range(0, len(s), 2))
        right = sum(int(s[i]) for i in range(1, len(s), 2))
        out.append("BALANCED" if left == right else str(left - right))
    return "\n".join(out)
