"""Independent Gi* reference values for refZ in stats_test.go.

Getis and Ord (1992) ratio form, written from the paper rather than from
the Go code: G*_i = sum_j w_ij x_j / sum_j x_j, E[G*_i] = W_i / n,
Var[G*_i] = W_i (n - W_i) / (n^2 (n - 1)) * Y2 / Y1^2 with Y1 = sum x / n,
Y2 = sum x^2 / n - Y1^2, and binary weights w_ij = 1 when the centres of
cells i and j are at most 1.5 cells apart (i = j included).
Standard library only. Run: python3 testdata/gistar_ref.py
"""
import math

GRID = [  # row 0 is the southern row, as in the Go grid
    [0, 0, 1, 0, 0],
    [0, 2, 3, 1, 0],
    [1, 4, 9, 5, 0],
    [0, 2, 6, 2, 0],
    [0, 0, 1, 0, 3],
]
rows, cols = len(GRID), len(GRID[0])
cells = [(r, c, GRID[r][c]) for r in range(rows) for c in range(cols)]
n = len(cells)
y1 = sum(v for _, _, v in cells) / n
y2 = sum(v * v for _, _, v in cells) / n - y1 * y1
total = sum(v for _, _, v in cells)
out = []
for r, c, _ in cells:
    w = [1.0 if math.hypot(r - r2, c - c2) <= 1.5 else 0.0 for r2, c2, _ in cells]
    wi = sum(w)
    g = sum(wj * v for wj, (_, _, v) in zip(w, cells)) / total
    e = wi / n
    var = wi * (n - wi) / (n * n * (n - 1)) * y2 / (y1 * y1)
    z = (g - e) / math.sqrt(var)
    p = math.erfc(abs(z) / math.sqrt(2))
    out.append((z, p))
for r in range(rows):
    print("\t// row %d" % r)
    print("\t" + " ".join("%.12f," % out[r * cols + c][0] for c in range(cols)))
print("p(center)=%.12g" % out[2 * cols + 2][1])
