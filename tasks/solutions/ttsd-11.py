import sys


def main():
    data = list(map(int, sys.stdin.read().split()))
    n = data[0]
    events = []
    for i in range(n):
        s, e, p = data[1 + 3 * i : 4 + 3 * i]
        events.append((s, p))
        events.append((e, -p))
    # At equal times departures (negative) sort first: people leaving at e are gone at e.
    events.sort()
    present = 0
    best, when = 0, 0
    for time, change in events:
        present += change
        if present > best:
            best, when = present, time
    print(best, when)


main()
