from typing import List


class Solution:
    def runnerUp(self, volumes: List[int]) -> int:
        top = max(volumes)
        below = [v for v in volumes if v < top]
        return max(below) if below else -1
