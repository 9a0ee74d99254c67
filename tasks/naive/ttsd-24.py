from typing import List


class Solution:
    def totalSpread(self, prices: List[int]) -> int:
        # Naive: every period, with a running maximum and minimum — O(N^2).
        total = 0
        n = len(prices)
        for i in range(n):
            high = low = prices[i]
            for j in range(i, n):
                p = prices[j]
                if p > high:
                    high = p
                elif p < low:
                    low = p
                total += high - low
        return total
