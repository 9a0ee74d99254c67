from typing import List


class Solution:
    def longestGentleChain(self, nums: List[int], d: int) -> int:
        # Naive: the quadratic longest-chain DP over every earlier element.
        best = []
        for i, x in enumerate(nums):
            length = 1
            for j in range(i):
                if 1 <= abs(x - nums[j]) <= d and best[j] + 1 > length:
                    length = best[j] + 1
            best.append(length)
        return max(best)
