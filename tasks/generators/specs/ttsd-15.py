ID = "ttsd-15"
TITLE = "Typo Distance"
DIFFICULTY = "medium"
DATE = "2026-01-19T00:00:00"
FUNC_NAME = "typoDistance"
STARTER = "class Solution:\n    def typoDistance(self, typed: str, intended: str) -> int:\n        "
STATEMENT = """
A spelling checker measures how far a typed word is from the intended word by the smallest number of single edits that turn typed into intended. One edit is one of:

- insert one letter anywhere,
- delete one letter,
- replace one letter by another letter,
- swap two adjacent letters.

Any sequence of edits is allowed; a letter may be edited several times.

Return the smallest number of edits.
"""
CONSTRAINTS = """
0 <= typed.length, intended.length <= 300
typed and intended consist of lowercase English letters.
"""


def rand_word(rng, n, letters):
    return "".join(rng.choice(letters) for _ in range(n))


def public():
    return [["form", "from"], ["kitten", "sitting"], ["ca", "abc"]]


def private(rng):
    tests = [["", ""], ["", "abc"], ["abc", ""], ["ab", "ba"], ["abcdef", "badcfe"], ["aaaa", "aaaa"]]
    for n, m, letters in [(8, 9, "ab"), (50, 45, "abcd"), (300, 300, "abcdefghijklmnopqrstuvwxyz"), (300, 280, "ab")]:
        tests.append([rand_word(rng, n, letters), rand_word(rng, m, letters)])
    word = rand_word(rng, 300, "abcdefghij")
    typo = list(word)
    for _ in range(40):  # realistic typos: mostly swaps of neighbours
        i = rng.randrange(len(typo) - 1)
        typo[i], typo[i + 1] = typo[i + 1], typo[i]
    tests.append([word, "".join(typo)])
    return tests


def small(rng):
    return [rand_word(rng, rng.randint(0, 4), "abc"), rand_word(rng, rng.randint(0, 4), "abc")]


def brute(typed, intended):
    """Breadth-first search over all strings reachable by single edits (bounded length)."""
    from collections import deque

    letters = sorted(set(typed + intended)) or ["a"]
    limit = max(len(typed), len(intended)) + 1
    dist = {typed: 0}
    queue = deque([typed])
    while queue:
        word = queue.popleft()
        if word == intended:
            return dist[word]
        nexts = []
        for i in range(len(word) + 1):
            if len(word) < limit:
                nexts += [word[:i] + c + word[i:] for c in letters]
        for i in range(len(word)):
            nexts.append(word[:i] + word[i + 1 :])
            nexts += [word[:i] + c + word[i + 1 :] for c in letters]
            if i + 1 < len(word):
                nexts.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
        for nxt in nexts:
            if nxt not in dist:
                dist[nxt] = dist[word] + 1
                queue.append(nxt)
    raise AssertionError("unreachable")
