# Naive: the quadratic DP over the last batch's start — O(N^2), with the usual pruning
# (stop once the batch alone costs more than the best found), which does not help when
# setup is expensive and batches are long.
import sys

data = sys.stdin.read().split()
n, c = int(data[0]), int(data[1])
prefix = [0]
for x in data[2 : 2 + n]:
    prefix.append(prefix[-1] + int(x))
best = [0] * (n + 1)
for i in range(1, n + 1):
    candidate = None
    for j in range(i - 1, -1, -1):
        batch = prefix[i] - prefix[j]
        if candidate is not None and batch * batch > candidate:
            break
        cost = best[j] + batch * batch + c
        if candidate is None or cost < candidate:
            candidate = cost
    best[i] = candidate
print(best[n])
