import heapq
from typing import List


class Solution:
    def buildOrder(self, n: int, rules: List[List[int]]) -> List[int]:
        after = [[] for _ in range(n)]
        waiting = [0] * n
        for a, b in rules:
            after[a].append(b)
            waiting[b] += 1
        ready = [m for m in range(n) if waiting[m] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            m = heapq.heappop(ready)
            order.append(m)
            for nxt in after[m]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    heapq.heappush(ready, nxt)
        return order if len(order) == n else []
