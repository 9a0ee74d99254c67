import sys

MOD = 1_000_000_007


def main():
    data = list(map(int, sys.stdin.read().split()))
    n, d = data[0], data[1]
    ways = [0] * (n + 1)
    ways[0] = 1
    for i in range(d):
        value, limit = data[2 + 2 * i], data[3 + 2 * i]
        # new[s] = sum_{k=0..limit} ways[s - k*value], as a sliding window along each residue class.
        new = [0] * (n + 1)
        span = (limit + 1) * value
        for s in range(n + 1):
            total = ways[s]
            if s >= value:
                total += new[s - value]
            if s >= span:
                total -= ways[s - span]
            new[s] = total % MOD
        ways = new
    print(ways[n])


main()
