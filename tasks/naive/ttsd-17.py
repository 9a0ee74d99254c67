# Naive: scan every pair, stopping only when a taller tower blocks the view — O(N^2) when many
# towers share the maximal height.
import sys

data = sys.stdin.read().split()
n = int(data[0])
h = list(map(int, data[1 : 1 + n]))
pairs = 0
for i in range(n):
    tallest_between = 0
    for j in range(i + 1, n):
        if tallest_between <= min(h[i], h[j]):
            pairs += 1
        tallest_between = max(tallest_between, h[j])
        if tallest_between > h[i]:
            break
print(pairs)
