import sys

data = list(map(int, sys.stdin.read().split()))
n, water = data[0], data[1]
full = 0
for capacity in data[2 : 2 + n]:
    if water >= capacity:
        water -= capacity
        full += 1
    else:
        water = 0
        break
print(full, water)
