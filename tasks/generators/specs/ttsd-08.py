ID = "ttsd-08"
TITLE = "Packed Runs"
DIFFICULTY = "easy"
DATE = "2026-01-12T00:00:00"
FUNC_NAME = "packRuns"
STARTER = "class Solution:\n    def packRuns(self, s: str) -> str:\n        "
STATEMENT = """
To save space, a log file writes every maximal run of equal consecutive characters of a string as the character followed by the length of the run, except that a run of length 1 is written as the character alone.

For example "aaabccdddd" is packed as "a3bc2d4".

Given s, return its packed form.
"""
CONSTRAINTS = """
1 <= s.length <= 10^5
s consists of lowercase English letters.
"""


def public():
    return [["aaabccdddd"], ["abc"], ["zzzzzzzzzzzz"]]


def private(rng):
    tests = [["a"], ["aa"], ["ab"], ["q" * 3000]]
    for n, letters in [(30, "ab"), (1000, "abc"), (3000, "abcdefghijklmnopqrstuvwxyz"), (2000, "xy")]:
        tests.append(["".join(rng.choice(letters) for _ in range(n))])
    return tests


def small(rng):
    return ["".join(rng.choice("ab") for _ in range(rng.randint(1, 12)))]


def brute(s):  # character by character, independent of the reference
    out = ""
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and s[j] == s[i]:
            j += 1
        out += s[i] + (str(j - i) if j - i > 1 else "")
        i = j
    return out
