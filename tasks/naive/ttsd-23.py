from typing import List


class Solution:
    def countQuietPairs(self, freqs: List[int], k: int) -> int:
        # Naive: XOR every pair — O(N^2).
        pairs = 0
        n = len(freqs)
        for i in range(n):
            for j in range(i + 1, n):
                if freqs[i] ^ freqs[j] < k:
                    pairs += 1
        return pairs
