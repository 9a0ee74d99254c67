import sys
from collections import deque


def main():
    data = sys.stdin.read().split()
    n, k = int(data[0]), int(data[1])
    t = list(map(int, data[2 : 2 + n]))
    highs = deque()  # indices with decreasing readings: the front is the window maximum
    lows = deque()  # indices with increasing readings: the front is the window minimum
    left = 0
    best_length, best_start = 0, 0
    for right, value in enumerate(t):
        while highs and t[highs[-1]] <= value:
            highs.pop()
        highs.append(right)
        while lows and t[lows[-1]] >= value:
            lows.pop()
        lows.append(right)
        while t[highs[0]] - t[lows[0]] > k:
            left += 1
            if highs[0] < left:
                highs.popleft()
            if lows[0] < left:
                lows.popleft()
        if right - left + 1 > best_length:  # strictly longer only: keeps the earliest start
            best_length, best_start = right - left + 1, left
    print(best_length, best_start + 1)


main()
