import sys


def main():
    data = sys.stdin.read().split()
    n, c = int(data[0]), int(data[1])
    prefix = [0] * (n + 1)
    for i in range(n):
        prefix[i + 1] = prefix[i] + int(data[2 + i])
    # best[i] = min over j < i of best[j] + (P_i - P_j)^2 + C
    #         = P_i^2 + C + min_j (-2 P_j * P_i + best[j] + P_j^2): a lower envelope of lines whose
    # slopes -2 P_j decrease while the query points P_i increase (convex hull trick, deque).
    best = [0] * (n + 1)
    slopes = [0]
    intercepts = [0]
    head = 0

    def useless(m1, b1, m2, b2, m3, b3):
        # Line 2 never wins once lines 1 and 3 exist (slopes m1 > m2 > m3).
        return (b3 - b1) * (m1 - m2) <= (b2 - b1) * (m1 - m3)

    for i in range(1, n + 1):
        x = prefix[i]
        while head + 1 < len(slopes) and slopes[head + 1] * x + intercepts[head + 1] <= slopes[head] * x + intercepts[head]:
            head += 1
        best[i] = slopes[head] * x + intercepts[head] + x * x + c
        m, b = -2 * x, best[i] + x * x
        while len(slopes) - head >= 2 and useless(slopes[-2], intercepts[-2], slopes[-1], intercepts[-1], m, b):
            slopes.pop()
            intercepts.pop()
        slopes.append(m)
        intercepts.append(b)
    print(best[n])


main()
