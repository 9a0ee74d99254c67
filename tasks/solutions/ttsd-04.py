import sys


def is_mirror(minute):
    digits = f"{minute // 60:02d}{minute % 60:02d}"
    return digits == digits[::-1]


tokens = sys.stdin.read().split()
answers = []
for text in tokens[1 : 1 + int(tokens[0])]:
    now = int(text[:2]) * 60 + int(text[3:])
    wait = 0
    while not is_mirror((now + wait) % 1440):
        wait += 1
    answers.append(str(wait))
print("\n".join(answers))
