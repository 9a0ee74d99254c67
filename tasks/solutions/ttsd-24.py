from typing import List


class Solution:
    def totalSpread(self, prices: List[int]) -> int:
        # Sum of maxima minus sum of minima over all periods; each price counts as the maximum of
        # (left reach) * (right reach) periods, with ties broken to the leftmost to count once.
        return self._sum_of_extremes(prices, lambda a, b: a < b) - self._sum_of_extremes(prices, lambda a, b: a > b)

    @staticmethod
    def _sum_of_extremes(values: List[int], weaker) -> int:
        n = len(values)
        left = [0] * n  # periods ending at i where values[i] wins, extending left
        stack = []
        for i in range(n):
            while stack and weaker(values[stack[-1]], values[i]):
                stack.pop()
            left[i] = i - stack[-1] if stack else i + 1
            stack.append(i)
        total = 0
        stack = []
        for i in range(n - 1, -1, -1):
            while stack and not weaker(values[i], values[stack[-1]]):
                stack.pop()
            right = stack[-1] - i if stack else n - i
            total += values[i] * left[i] * right
            stack.append(i)
        return total
