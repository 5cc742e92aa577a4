# Fits the polynomial h(t) of src/engine/math/gelu-f32.ts: Φ(−a)·e^(a²/2) ≈ Σ H[j]·t^j with
# t = 1/(1 + a/4), for a in [0, 16], minimizing the largest relative error (Lawson's iteratively
# reweighted least squares on a Chebyshev basis over 3000 Chebyshev points of t; reference values from
# mpmath at 30 digits). Prints the coefficients rounded to float32, t^0 first, and the fit's error.
# Run with /usr/bin/python3 (numpy, mpmath).
import mpmath as mp
import numpy as np

mp.mp.dps = 30
A, XMAX, DEG, N = 0.25, 16.0, 10, 3000


def h(a):
    a = mp.mpf(a)
    return float(mp.erfc(a / mp.sqrt(2)) / 2 * mp.exp(a * a / 2))


tmin = 1 / (1 + A * XMAX)
t = np.cos(np.linspace(0, np.pi, N)) * 0.5 * (1 - tmin) + 0.5 * (1 + tmin)
ys = np.array([h((1 / ti - 1) / A) for ti in t])
V = np.polynomial.chebyshev.chebvander((2 * t - (1 + tmin)) / (1 - tmin), DEG)
w = np.ones(N)
for _ in range(60):
    W = np.sqrt(w) / ys
    c, *_ = np.linalg.lstsq(V * W[:, None], ys * W, rcond=None)
    err = np.abs(V @ c - ys) / ys
    w = w * err
    w /= w.sum()
coef = np.polynomial.Chebyshev(c, domain=[tmin, 1]).convert(kind=np.polynomial.Polynomial).coef
print([float(np.float32(x)) for x in coef])
print(f'largest relative error of the fit: {err.max():.3g}')
