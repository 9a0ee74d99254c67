class Solution:
    def typoDistance(self, typed: str, intended: str) -> int:
        # Unrestricted Damerau–Levenshtein distance (Lowrance–Wagner); exact here because
        # 2 * cost(swap) >= cost(insert) + cost(delete).
        a, b = typed, intended
        n, m = len(a), len(b)
        infinity = n + m
        d = [[0] * (m + 2) for _ in range(n + 2)]
        d[0][0] = infinity
        for i in range(n + 1):
            d[i + 1][0] = infinity
            d[i + 1][1] = i
        for j in range(m + 1):
            d[0][j + 1] = infinity
            d[1][j + 1] = j
        last_row = {}
        for i in range(1, n + 1):
            last_match_col = 0
            for j in range(1, m + 1):
                k = last_row.get(b[j - 1], 0)
                l = last_match_col
                if a[i - 1] == b[j - 1]:
                    cost = 0
                    last_match_col = j
                else:
                    cost = 1
                d[i + 1][j + 1] = min(
                    d[i][j] + cost,
                    d[i + 1][j] + 1,
                    d[i][j + 1] + 1,
                    d[k][l] + (i - k - 1) + 1 + (j - l - 1),
                )
            last_row[a[i - 1]] = i
        return d[n + 1][m + 1]
