ID = "ttsd-04"
TITLE = "Mirror Clock"
DIFFICULTY = "easy"
DATE = "2026-01-08T00:00:00"
FUNC_NAME = None
STATEMENT = """
A 24-hour digital clock shows the time as HH:MM, from 00:00 to 23:59 (after 23:59 comes 00:00). Ignoring the colon, the display shows four digits. A time is a mirror time if those four digits read the same from right to left as from left to right; for example 12:21 and 00:00 are mirror times, 12:12 is not.

For each given time, print how many minutes from now the clock will next show a mirror time. If the given time is itself a mirror time, print 0.

Input

The first line contains T. Each of the next T lines contains a time in the format HH:MM.

Output

Print T lines, one answer per time.
"""
CONSTRAINTS = """
1 <= T <= 1440
Every given time is a valid time between 00:00 and 23:59.
"""


def case(times):
    return f"{len(times)}\n" + "".join(f"{t}\n" for t in times)


def fmt(minute):
    return f"{minute // 60:02d}:{minute % 60:02d}"


def public():
    return [case(["12:21", "12:22", "23:33", "05:51"])]


def private(rng):
    return [
        case(["00:00", "23:59", "23:32", "15:51", "15:52", "05:50"]),
        case([fmt(m) for m in range(1440)]),
        case([fmt(rng.randrange(1440)) for _ in range(500)]),
    ]


def small(rng):
    return case([fmt(rng.randrange(1440)) for _ in range(rng.randint(1, 5))])


def brute(text):
    mirrors = [m for m in range(1440) if fmt(m).replace(":", "") == fmt(m).replace(":", "")[::-1]]
    out = []
    for t in text.split()[1:]:
        now = int(t[:2]) * 60 + int(t[3:])
        out.append(str(min((m - now) % 1440 for m in mirrors)))
    return "\n".join(out)
