"""A plain, obviously-correct evaluation of the ISO/IEC 18004 §7.8.3.1 mask
penalty (N1 = 3, N2 = 3, N3 = 40, N4 = 10), used to check the word-parallel
Swift implementation.

Conventions (the same as the Swift encoder, zxing and segno): a finder-like
pattern 1011101 scores once if 4 light modules precede or follow it, with
modules outside the symbol counting as light; N4 is 10 points for every full
5 % step of deviation from 50 % dark.
"""


def _line_penalty(line):
    n = len(line)
    score = 0
    # N1: runs of >= 5 same-coloured modules score 3 + (run - 5).
    run = 1
    for i in range(1, n + 1):
        if i < n and line[i] == line[i - 1]:
            run += 1
        else:
            if run >= 5:
                score += 3 + (run - 5)
            run = 1
    # N3: 1:1:3:1:1 core with 4 light modules before or after.
    core = (1, 0, 1, 1, 1, 0, 1)

    def light(a, b):
        return all(line[j] == 0 for j in range(max(a, 0), min(b, n)))

    for i in range(n - 6):
        if tuple(line[i:i + 7]) == core and (light(i - 4, i) or light(i + 7, i + 11)):
            score += 40
    return score


def penalty(rows):
    n = len(rows)
    score = sum(_line_penalty(r) for r in rows)
    score += sum(_line_penalty([rows[y][x] for y in range(n)]) for x in range(n))
    # N2: 2x2 blocks of one colour.
    for y in range(n - 1):
        for x in range(n - 1):
            if rows[y][x] == rows[y][x + 1] == rows[y + 1][x] == rows[y + 1][x + 1]:
                score += 3
    # N4: proportion of dark modules.
    dark = sum(map(sum, rows))
    total = n * n
    score += 10 * (abs(dark * 20 - total * 10) // total)
    return score
