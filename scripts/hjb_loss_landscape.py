"""The deep BSDE loss of HJB at the exact solution, and at the exact solutions of other lambdas.

For HJB (u_t + Laplace u - lam |grad u|^2 = 0, g(x) = ln((1 + |x|^2) / 2), X = x0 + sqrt(2) W)
the solution is radial, so u(t, x) and Z = sqrt(2) grad u follow from a one-dimensional
Cole-Hopf quadrature over |X_T| on a grid of radii. This script simulates paths on the
solver's time grid, runs the forward recursion of the loss with the exact Z of
`--solution-lam` inside the f of `--lam`, and prints, for Euler's step, Heun's step and Heun's
step with the Milstein term (1/2)(dW . (J sigma dW) - tr(J sigma) dt) of the stochastic integral
(J = dZ/dx, exact here), the Y_0 that minimises the loss (E g(X_N) + the recursion's mean) and
the loss left there (the variance of Y_N - g(X_N)). With --solution-lam equal to --lam, this is
the loss of the exact solution; with another lambda, of a wrong Y_0 and Z that the loss may
not tell apart from it (docs/method.md, section 8).

    python scripts/hjb_loss_landscape.py --lam 50 --solution-lam 30
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from scipy.special import logsumexp

from deepbsde.reference.cole_hopf import chi_log_density

NODES, WEIGHTS = np.polynomial.legendre.leggauss(64)


def g_radial(r: np.ndarray) -> np.ndarray:
    """HJB's terminal condition as a function of |x| (equations/hjb.py)."""
    return np.log((1.0 + r ** 2) / 2.0)


def u_radial(tau: float, r: float, dim: int, lam: float) -> float:
    """u at time to maturity tau and |x| = r: -(1/lam) ln E exp(-lam g(|x + sqrt(2) W_tau|)), by
    Gauss-Legendre quadrature over |x + sqrt(2) W_tau| / sqrt(2 tau), a (noncentral) chi variable."""
    if tau == 0.0:
        return float(g_radial(np.array(r)))
    scale = np.sqrt(2.0 * tau)
    noncentrality = (r / scale) ** 2
    centre = np.sqrt(dim + noncentrality)
    edges = np.linspace(max(centre - 15.0, 1e-6), centre + 15.0, 41)
    half = 0.5 * np.diff(edges)[:, np.newaxis]
    v = ((0.5 * (edges[:-1] + edges[1:]))[:, np.newaxis] + half * NODES).ravel()
    log_integrand = chi_log_density(v, dim, noncentrality) - lam * g_radial(scale * v)
    return float(-logsumexp(log_integrand + np.log((half * WEIGHTS).ravel())) / lam)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lam", type=float, default=50.0, help="lambda of the loss's f")
    parser.add_argument("--solution-lam", type=float, default=None, help="lambda of the exact Z used (default: --lam)")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20, help="time steps N (T = 1)")
    parser.add_argument("--paths", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dim, lam, steps = args.dim, args.lam, args.steps
    solution_lam = lam if args.solution_lam is None else args.solution_lam
    dt = 1.0 / steps

    # u, its radial derivative and phi = u_r / r (Z = sqrt(2) phi x) with phi_r, on a grid of radii per step
    radii = np.linspace(0.0, 40.0, 801)
    phi, phi_r = [], []
    for n in range(steps + 1):
        u = np.array([u_radial(1.0 - n * dt, r, dim, solution_lam) for r in radii])
        ratio = np.gradient(u, radii) / np.maximum(radii, 1e-12)
        ratio[0] = ratio[1]
        phi.append(ratio)
        phi_r.append(np.gradient(ratio, radii))
    y0 = u_radial(1.0, 0.0, dim, solution_lam)

    def z_and_correction(n: int, x: np.ndarray, dw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Z_n at x and the Milstein term with J = sqrt(2) (phi I + phi_r x x^T / r), sigma = sqrt(2) I."""
        r = np.maximum(np.linalg.norm(x, axis=1), 1e-12)
        p, p_r = np.interp(r, radii, phi[n]), np.interp(r, radii, phi_r[n])
        z = np.sqrt(2.0) * p[:, np.newaxis] * x
        quadratic = 2.0 * (p * np.sum(dw * dw, axis=1) + p_r * np.sum(x * dw, axis=1) ** 2 / r)
        trace = 2.0 * (p * dim + p_r * r) * dt
        return z, 0.5 * (quadratic - trace)

    def f(z: np.ndarray) -> np.ndarray:
        return -0.5 * lam * np.sum(z * z, axis=1)

    rng = np.random.default_rng(args.seed)
    x = np.zeros((args.paths, dim))
    schemes = {"Euler": np.zeros(args.paths), "Heun": np.zeros(args.paths), "Heun + Milstein": np.zeros(args.paths)}
    z, _ = z_and_correction(0, x, np.zeros_like(x))
    for n in range(steps):
        dw = rng.normal(0.0, np.sqrt(dt), x.shape)
        _, correction = z_and_correction(n, x, dw)
        x_next = x + np.sqrt(2.0) * dw
        z_next, _ = z_and_correction(n + 1, x_next, np.zeros_like(x))
        stochastic = np.sum(z * dw, axis=1)
        schemes["Euler"] += -dt * f(z) + stochastic
        heun = -0.5 * dt * (f(z) + f(z_next)) + stochastic
        schemes["Heun"] += heun
        schemes["Heun + Milstein"] += heun + correction
        x, z = x_next, z_next
    g = g_radial(np.linalg.norm(x, axis=1))
    print(f"loss of lambda = {lam:g} at the exact Z of lambda = {solution_lam:g} (d = {dim}, N = {steps}, "
          f"{args.paths} paths); u(0, 0) of lambda = {solution_lam:g}: {y0:.6f}; Var g(X_N) = {g.var():.4g}")
    for name, increments in schemes.items():
        residual = increments - g  # Y_N - g(X_N) - Y_0
        print(f"  {name:16s} best Y_0 {-residual.mean():.6f}, loss there {residual.var():.3g} "
              f"({residual.var() / g.var():.4f} x Var g)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
