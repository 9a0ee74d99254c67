from typing import List


class Solution:
    def countHollows(self, heights: List[int]) -> int:
        hollows = 0
        n = len(heights)
        i = 0
        while i < n:
            j = i
            while j + 1 < n and heights[j + 1] == heights[i]:
                j += 1
            if i > 0 and j < n - 1 and heights[i - 1] > heights[i] and heights[j + 1] > heights[i]:
                hollows += 1
            i = j + 1
        return hollows
