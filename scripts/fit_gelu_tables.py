#!/usr/bin/env python3
"""Fits the GELU tables of src/kernels/gemm_epilogue_avx512.hpp (kGeluQ) and prints them.

Q(u) = erfc(u/sqrt(2))/2 on 16 intervals of [0, 5.5); per interval a degree-5 polynomial in
the offset from the interval's centre, least squares on 200 Chebyshev nodes; the worst
absolute error of the float32 Horner evaluation is printed. Needs numpy (Debian python3-numpy).
"""
from math import erfc, sqrt

import numpy as np

RANGE, INTERVALS, DEGREE = 5.5, 16, 5


def main():
    h = RANGE / INTERVALS
    rows, worst = [], 0.0
    for i in range(INTERVALS):
        centre = i * h + h / 2
        k = np.arange(200)
        s = (h / 2) * np.cos((2 * k + 1) * np.pi / 400)
        q = np.array([0.5 * erfc((centre + v) / sqrt(2)) for v in s])
        p = np.array(np.polyfit(s, q, DEGREE), dtype=np.float32)
        grid = np.linspace(-h / 2, h / 2, 2001).astype(np.float32)
        r = np.full_like(grid, p[0])
        for c in p[1:]:
            r = (r * grid + c).astype(np.float32)
        ref = np.array([0.5 * erfc((centre + float(v)) / sqrt(2)) for v in grid])
        worst = max(worst, float(np.max(np.abs(r - ref))))
        rows.append(p)
    table = np.array(rows)
    for d in range(DEGREE + 1):
        print("    {" + ", ".join("%.9ef" % v for v in table[:, d]) + "},")
    print("// worst |error| of Q: %.3g" % worst)


if __name__ == "__main__":
    main()
