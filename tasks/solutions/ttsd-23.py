from typing import List

BITS = 20


class Solution:
    def countQuietPairs(self, freqs: List[int], k: int) -> int:
        # Binary trie over the earlier frequencies, with subtree counts. Walking k's bits from the
        # top: where k has a 1, every earlier value whose XOR with x has a 0 there (same bit as x)
        # is smaller than k below this point, so count that whole subtree and continue on the other side.
        children = [[0, 0]]
        counts = [0]
        pairs = 0
        for x in freqs:
            node = 0
            for bit in range(BITS - 1, -1, -1):
                if node < 0:
                    break
                xb = (x >> bit) & 1
                if (k >> bit) & 1:
                    same = children[node][xb]
                    if same:
                        pairs += counts[same]
                    node = children[node][xb ^ 1] or -1
                else:
                    node = children[node][xb] or -1
            node = 0
            counts[0] += 1
            for bit in range(BITS - 1, -1, -1):
                xb = (x >> bit) & 1
                nxt = children[node][xb]
                if not nxt:
                    nxt = len(counts)
                    children.append([0, 0])
                    counts.append(0)
                    children[node][xb] = nxt
                node = nxt
                counts[node] += 1
        return pairs
