# Naive: grow a stretch from every start until it stops being calm — O(N * stretch length).
import sys

data = sys.stdin.read().split()
n, k = int(data[0]), int(data[1])
t = list(map(int, data[2 : 2 + n]))
best_length, best_start = 0, 0
for left in range(n):
    low = high = t[left]
    for right in range(left, n):
        low = min(low, t[right])
        high = max(high, t[right])
        if high - low > k:
            break
        if right - left + 1 > best_length:
            best_length, best_start = right - left + 1, left
print(best_length, best_start + 1)
