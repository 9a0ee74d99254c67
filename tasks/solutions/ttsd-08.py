from itertools import groupby


class Solution:
    def packRuns(self, s: str) -> str:
        parts = []
        for letter, run in groupby(s):
            length = sum(1 for _ in run)
            parts.append(letter if length == 1 else f"{letter}{length}")
        return "".join(parts)
