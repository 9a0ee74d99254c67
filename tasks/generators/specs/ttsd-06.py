ID = "ttsd-06"
TITLE = "Even Endings"
DIFFICULTY = "easy"
DATE = "2026-01-10T00:00:00"
FUNC_NAME = "evenEndings"
STARTER = "class Solution:\n    def evenEndings(self, s: str) -> int:\n        "
STATEMENT = """
You are given a string s made of the letters 'a' and 'b'. An ending of s is a non-empty suffix of s (s itself counts as an ending).

Return how many endings of s contain exactly as many letters 'a' as letters 'b'.
"""
CONSTRAINTS = """
1 <= s.length <= 10^5
s consists only of 'a' and 'b'.
"""


def public():
    return [["abab"], ["aab"], ["bbbb"]]


def private(rng):
    tests = [["a"], ["ab"], ["ba" * 50], ["a" * 1000 + "b" * 1000]]
    for n in (20, 999, 3000):
        tests.append(["".join(rng.choice("ab") for _ in range(n))])
    return tests


def small(rng):
    return ["".join(rng.choice("ab") for _ in range(rng.randint(1, 12)))]


def brute(s):
    return sum(s[i:].count("a") == s[i:].count("b") for i in range(len(s)))
