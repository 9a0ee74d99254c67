from typing import List


class Solution:
    def longestSawtooth(self, nums: List[int]) -> int:
        # up / down: longest sawtooth ending with a rising / falling step so far.
        up = down = 1
        for previous, current in zip(nums, nums[1:]):
            if current > previous:
                up = down + 1
            elif current < previous:
                down = up + 1
        return max(up, down)
