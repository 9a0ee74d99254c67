ID = "ttsd-13"
TITLE = "Earliest Build Order"
DIFFICULTY = "medium"
DATE = "2026-01-17T00:00:00"
FUNC_NAME = "buildOrder"
STARTER = "class Solution:\n    def buildOrder(self, n: int, rules: List[List[int]]) -> List[int]:\n        "
STATEMENT = """
A build system must compile n modules numbered 0 to n - 1, one at a time. Each rule [a, b] in rules says that module a must be compiled before module b.

Among all orders that respect every rule, return the lexicographically smallest one (compare orders element by element from the front). If no order respects all rules, return an empty list.
"""
CONSTRAINTS = """
1 <= n <= 10^5
0 <= rules.length <= 10^5
rules[i].length == 2
0 <= a, b < n, and a != b
Rules may repeat.
"""


def rand_dag(rng, n, m, cyclic):
    perm = list(range(n))
    rng.shuffle(perm)
    rules = []
    for _ in range(m):
        i, j = sorted(rng.sample(range(n), 2))
        rules.append([perm[i], perm[j]])
    if cyclic and m > 0:
        a, b = rules[0]
        rules.append([b, a])
    return rules


def public():
    return [[4, [[3, 1], [2, 1], [1, 0]]], [3, []], [2, [[0, 1], [1, 0]]]]


def private(rng):
    tests = [[1, []], [2, [[1, 0], [1, 0]]], [5, [[4, 3], [3, 2], [2, 1], [1, 0]]]]
    for n, m, cyclic in [(10, 12, False), (200, 400, True), (3000, 6000, False), (3000, 6000, True), (3000, 300, False)]:
        tests.append([n, rand_dag(rng, n, m, cyclic)])
    return tests


def small(rng):
    n = rng.randint(1, 6)
    return [n, rand_dag(rng, n, rng.randint(0, 6), rng.random() < 0.3) if n > 1 else []]


def brute(n, rules):
    from itertools import permutations

    for order in permutations(range(n)):  # generated in lexicographic order
        where = {m: i for i, m in enumerate(order)}
        if all(where[a] < where[b] for a, b in rules):
            return list(order)
    return []
