import sys

data = sys.stdin.read().split()
n = int(data[0])
best = 0
noticed = 0
for value in map(int, data[1 : 1 + n]):
    if value > best:
        noticed += 1
        best = value
print(noticed)
