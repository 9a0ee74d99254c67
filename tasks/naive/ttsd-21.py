from typing import List


class Solution:
    def countSparseWindows(self, nums: List[int]) -> int:
        # Naive: grow a window from every start until some value occurs three times.
        windows = 0
        for left in range(len(nums)):
            count = {}
            for right in range(left, len(nums)):
                count[nums[right]] = count.get(nums[right], 0) + 1
                if count[nums[right]] > 2:
                    break
                windows += 1
        return windows
