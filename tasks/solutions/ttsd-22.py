from bisect import bisect_left, bisect_right
from typing import List


class Solution:
    def longestGentleChain(self, nums: List[int], d: int) -> int:
        # best chain ending at each distinct value, kept in a max segment tree over sorted values;
        # a new element x extends the best chain ending in [x - d, x - 1] or [x + 1, x + d].
        values = sorted(set(nums))
        size = 1
        while size < len(values):
            size *= 2
        tree = [0] * (2 * size)

        def range_max(lo: int, hi: int) -> int:  # over positions [lo, hi)
            result = 0
            lo += size
            hi += size
            while lo < hi:
                if lo & 1:
                    result = max(result, tree[lo])
                    lo += 1
                if hi & 1:
                    hi -= 1
                    result = max(result, tree[hi])
                lo >>= 1
                hi >>= 1
            return result

        longest = 0
        for x in nums:
            here = bisect_left(values, x)
            below = range_max(bisect_left(values, x - d), here)
            above = range_max(here + 1, bisect_right(values, x + d))
            length = max(below, above) + 1
            longest = max(longest, length)
            i = here + size
            if tree[i] < length:
                tree[i] = length
                i >>= 1
                while i and tree[i] < length:
                    tree[i] = length
                    i >>= 1
        return longest
