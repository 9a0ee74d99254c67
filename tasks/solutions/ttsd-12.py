import sys


def main():
    data = list(map(int, sys.stdin.read().split()))
    n, m = data[0], data[1]
    # Flip parity changes only at command boundaries: sort them and walk the segments.
    boundaries = {}
    for i in range(m):
        l, r = data[2 + 2 * i], data[3 + 2 * i]
        boundaries[l] = boundaries.get(l, 0) ^ 1
        boundaries[r + 1] = boundaries.get(r + 1, 0) ^ 1
    points = sorted(boundaries)
    on_total = 0
    longest = run = 0
    state = 0
    previous = 1
    for point in points + [n + 1]:
        length = min(point, n + 1) - previous
        if length > 0:
            if state:
                on_total += length
                run += length
                longest = max(longest, run)
            else:
                run = 0
        previous = max(previous, min(point, n + 1))
        if point <= n:
            state ^= boundaries[point]
    print(on_total, longest)


main()
