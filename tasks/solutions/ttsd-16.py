from collections import deque
from typing import List


class Solution:
    def islandsAtLevels(self, grid: List[List[int]], levels: List[int]) -> List[int]:
        h, w = len(grid), len(grid[0])
        answers = []
        for level in levels:
            seen = [[False] * w for _ in range(h)]
            islands = 0
            for r in range(h):
                for c in range(w):
                    if grid[r][c] > level and not seen[r][c]:
                        islands += 1
                        seen[r][c] = True
                        queue = deque([(r, c)])
                        while queue:
                            y, x = queue.popleft()
                            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                                if 0 <= ny < h and 0 <= nx < w and not seen[ny][nx] and grid[ny][nx] > level:
                                    seen[ny][nx] = True
                                    queue.append((ny, nx))
            answers.append(islands)
        return answers
