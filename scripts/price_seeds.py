"""Seed-to-seed spread of `deepbsde.price` on the 10-asset max-call (the README's example).

    .venv/bin/python scripts/price_seeds.py --seeds 1 2 3 4 5 [--set iterations=4000 ...]

Prices MaxCall(100) on 10 independent assets (spot 100, r = 5%, vol 20%,
T = 1) once per seed with the default pricing options (overridden by --set
key=value, values parsed as YAML) and prints, per seed, the price, its
relative error against the Monte Carlo reference, the largest relative delta
error against the pathwise Monte Carlo deltas and the time; then the spread.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import MaxCall
from deepbsde.pricing import PRICING_OPTIONS, PRICING_TIME_STEPS, price
from deepbsde.reference import black_scholes_deltas, black_scholes_price
from deepbsde.runs.config import parse_yaml


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--time-steps", type=int, default=PRICING_TIME_STEPS)
    parser.add_argument("--reference-paths", type=int, default=4 * 10 ** 6)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="solver option override")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, text = item.partition("=")
        overrides[key] = parse_yaml(text)

    model = BlackScholesModel(spots=[100.0] * 10, rate=0.05, volatilities=0.2)
    payoff = MaxCall(100.0)
    reference = black_scholes_price(payoff, model, 1.0, num_paths=args.reference_paths)
    reference_deltas, delta_half_widths = black_scholes_deltas(payoff, model, 1.0, num_paths=args.reference_paths)
    print(f"options: {({**PRICING_OPTIONS, **overrides})}, time steps {args.time_steps}")
    print(f"Monte Carlo ({args.reference_paths} antithetic paths): {reference.value:.4f} "
          f"+- {reference.half_width:.4f}; deltas {reference_deltas.mean():.4f} (mean) "
          f"+- {delta_half_widths.max():.4f} (largest half-width)")
    print(f"{'seed':>4} {'price':>9} {'rel.err':>8} {'max delta rel.err':>17} {'mean delta':>10} {'seconds':>8}")
    prices, errors, delta_errors = [], [], []
    for seed in args.seeds:
        start = time.perf_counter()
        result = price(payoff, model, 1.0, time_steps=args.time_steps, reference=False, seed=seed, **overrides)
        seconds = time.perf_counter() - start
        delta_error = np.max(np.abs(result.deltas - reference_deltas) / reference_deltas)
        error = abs(result.price - reference.value) / reference.value
        prices.append(result.price)
        errors.append(error)
        delta_errors.append(delta_error)
        print(f"{seed:>4} {result.price:>9.4f} {error:>8.2%} {delta_error:>17.2%} {result.deltas.mean():>10.4f} "
              f"{seconds:>8.1f}", flush=True)
    spread = f"{np.std(prices, ddof=1):.4f}" if len(prices) > 1 else "n/a"
    print(f"price: mean {np.mean(prices):.4f}, std over seeds {spread}; "
          f"largest rel. error {max(errors):.2%}; largest delta rel. error {max(delta_errors):.2%}")


if __name__ == "__main__":
    main()
