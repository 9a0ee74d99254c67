from typing import List

BITS = 20


class Solution:
    def countQuietPairs(self, freqs: List[int], k: int) -> int:
        # Binary trie over the earlier frequencies, with subtree counts (node 0 is the root; child
        # index 0 means "absent"). Walking k's bits from the top: where k has a 1, every earlier value
        # agreeing with x on this bit has XOR 0 here, hence XOR < k whatever follows: count that whole
        # subtree, then continue on the side where the XOR bit equals k's bit.
        zero = [0]
        one = [0]
        counts = [0]
        pairs = 0
        top_bits = range(BITS - 1, -1, -1)
        for x in freqs:
            node = 0
            for bit in top_bits:
                xb = (x >> bit) & 1
                if (k >> bit) & 1:
                    same = one[node] if xb else zero[node]
                    if same:
                        pairs += counts[same]
                    node = zero[node] if xb else one[node]
                else:
                    node = one[node] if xb else zero[node]
                if not node:
                    break
            node = 0
            counts[0] += 1
            for bit in top_bits:
                children = one if (x >> bit) & 1 else zero
                nxt = children[node]
                if not nxt:
                    nxt = len(counts)
                    zero.append(0)
                    one.append(0)
                    counts.append(0)
                    children[node] = nxt
                node = nxt
                counts[node] += 1
        return pairs
