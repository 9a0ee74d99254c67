import sys
from bisect import bisect_right


def main():
    data = sys.stdin.read().split()
    n, k = int(data[0]), int(data[1])
    values = list(map(int, data[2 : 2 + n]))
    ranks = sorted(set(values))
    size = len(ranks)
    tree = [0] * (size + 1)  # Fenwick tree of how many earlier checkpoints have each altitude rank
    seen = 0
    pairs = 0
    for a in values:
        # Earlier altitudes x with x - a > K, i.e. x > a + K: those with rank beyond bisect_right(a + K).
        limit = bisect_right(ranks, a + k)
        at_most = 0
        i = limit
        while i > 0:
            at_most += tree[i]
            i -= i & -i
        pairs += seen - at_most
        i = bisect_right(ranks, a)  # 1-based rank of a
        while i <= size:
            tree[i] += 1
            i += i & -i
        seen += 1
    print(pairs)


main()
