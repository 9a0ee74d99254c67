class Solution:
    def evenEndings(self, s: str) -> int:
        balance = 0
        count = 0
        for letter in reversed(s):
            balance += 1 if letter == "a" else -1
            if balance == 0:
                count += 1
        return count
