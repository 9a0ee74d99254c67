import sys


def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    # Monotonic stack of (height, how many equal towers are grouped), heights strictly decreasing.
    # A new tower sees every popped (lower) group, all towers of an equal group, and the nearest
    # taller tower left of them.
    stack = []
    pairs = 0
    for h in map(int, data[1 : 1 + n]):
        while stack and stack[-1][0] < h:
            pairs += stack.pop()[1]
        if stack and stack[-1][0] == h:
            same = stack.pop()[1]
            pairs += same
            if stack:
                pairs += 1
            stack.append((h, same + 1))
        else:
            if stack:
                pairs += 1
            stack.append((h, 1))
    print(pairs)


main()
