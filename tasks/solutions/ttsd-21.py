from typing import List


class Solution:
    def countSparseWindows(self, nums: List[int]) -> int:
        # Two pointers: for each right end, the smallest left such that nums[left..right] is sparse.
        count = {}
        left = 0
        windows = 0
        for right, value in enumerate(nums):
            count[value] = count.get(value, 0) + 1
            while count[value] > 2:
                count[nums[left]] -= 1
                left += 1
            windows += right - left + 1
        return windows
