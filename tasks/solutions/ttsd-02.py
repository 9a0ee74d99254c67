import sys

lines = sys.stdin.read().split()
t = int(lines[0])
answers = []
for number in lines[1 : 1 + t]:
    difference = 0
    for position, digit in enumerate(number):
        difference += int(digit) if position % 2 == 0 else -int(digit)
    answers.append("BALANCED" if difference == 0 else str(difference))
print("\n".join(answers))
