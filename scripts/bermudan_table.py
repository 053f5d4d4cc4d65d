"""Bermudan and American options with certified bounds: the table of docs/bermudan.md.

    python scripts/bermudan_table.py                      # every case, writes docs/bermudan.md
    python scripts/bermudan_table.py --cases d2 american  # some cases; the other rows are kept
    python scripts/bermudan_table.py --cases hedge        # the upper bound with and without the hedge
    python scripts/bermudan_table.py --cases              # no case: rewrite the markdown from the stored rows
    python scripts/bermudan_table.py --config configs/bermudan_max_call.yaml   # one config, printed

Each row is stored with the command that measured it in docs/bermudan.json,
so the table can be built in several shorter runs; the markdown lists the commands.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import MaxCall, MinPut
from deepbsde.pricing.continuation import fitted_hedge
from deepbsde.pricing.early_exercise import (
    American,
    Bermudan,
    EarlyExercisePrice,
    early_exercise_job,
    price_early_exercise,
)
from deepbsde.pricing.optimal_stopping import StoppingProblem, lower_bound, train_policy, upper_bound
from deepbsde.reference.binomial import binomial_price
from deepbsde.reference.longstaff_schwartz import longstaff_schwartz
from deepbsde.runs.config import parse_yaml

REPO = Path(__file__).resolve().parent.parent

#: Solver settings per number of assets (fewer paths as d grows: two shared CPU cores).
SETTINGS = {2: {"training_paths": 2 ** 19, "training_steps": 800, "batch_size": 8192, "lower_paths": 2 ** 22,
                    "outer_paths": 2000, "inner_paths": 1000},
            5: {"training_paths": 2 ** 18, "training_steps": 500, "batch_size": 8192, "lower_paths": 2 ** 21,
                    "outer_paths": 1000, "inner_paths": 500},
            50: {"training_paths": 2 ** 17, "training_steps": 400, "batch_size": 4096, "lower_paths": 2 ** 20,
                     "outer_paths": 500, "inner_paths": 300}}
SETTINGS[100] = SETTINGS[50]
#: American put: a Bermudan on AMERICAN_STEPS dates, small networks since d = 1.
AMERICAN_STEPS = 100
AMERICAN = {"training_paths": 2 ** 19, "training_steps": 300, "batch_size": 16384, "hidden": 16, "lower_paths": 2 ** 21,
            "outer_paths": 300, "inner_paths": 300}

#: The hedge's effect on the upper bound: one policy for a put on HEDGE_DATES equal steps,
#: the Andersen-Broadie bound with each inner control variate and several inner path counts.
HEDGE_DATES = 50
HEDGE_POLICY = {"paths": 2 ** 16, "steps": 150, "batch_size": 4096, "hidden": 16}
HEDGE_RUNS = [(False, 100), (False, 400), (False, 1600), (True, 100), (True, 400)]
HEDGE_OUTER = 200

#: Published Bermudan max-call values (Andersen and Broadie 2004; Becker, Cheridito and Jentzen 2019).
PUBLISHED = {(2, 90.0): 8.08, (2, 100.0): 13.90, (2, 110.0): 21.34,
             (5, 90.0): 16.64, (5, 100.0): 26.15, (5, 110.0): 36.78}
MAX_CALL_DATES = Bermudan([k / 3 for k in range(10)])
GROUPS = {"d2": [(2, s) for s in (90.0, 100.0, 110.0)], "d5": [(5, s) for s in (90.0, 100.0, 110.0)],
          "large": [(50, 100.0), (100, 100.0)]}

METHOD = """\
## Method

**Problem.** A Bermudan option may be exercised at the dates t_0 < ... < t_N
and then pays h(S_t). Its price is the value of an optimal stopping problem,
sup over stopping times tau with values in the exercise dates of
E[exp(-r tau) h(S_tau)], under the pricing measure where the d assets follow
correlated geometric Brownian motions. The asset prices are sampled exactly at
the dates (log-normal increments, correlated through the Cholesky factor of
the correlation matrix), so there is no time-stepping error.

**Exercise rule: deep optimal stopping** (Becker, Cheridito and Jentzen,
*Deep optimal stopping*, JMLR 20(74), 2019). Each exercise date gets a small
ReLU network (two hidden layers, by default of d + 40 units) that reads the log-prices
relative to the spots, the log-prices sorted, and the payoff, and outputs a
stop probability p. The networks are trained backwards from the last date: at
date n, p maximises the average over training paths of p h_n + (1 - p) R_{n+1},
where R_{n+1} is the reward that the already trained rules of the later dates
realise on the same path. The hard rule stops where p > 1/2 and the payoff is
positive; at t = 0, where every path is at the spots, it stops if the payoff
beats the mean realised reward. Training runs compiled (XLA) on mini-batches of
in-the-money paths, each network starting from the weights of the next date's.

**Lower bound.** Any stopping rule gives a price no larger than the optimal
one. The learned rule is applied to fresh paths, independent of the training
paths, and L is the mean discounted reward, with standard error s_L.

**Upper bound.** By duality (Rogers, *Monte Carlo valuation of American
options*, Math. Finance 12, 2002; Haugh and Kogan, Oper. Res. 52, 2004), for
any martingale M with M_0 = 0 the price is at most E[max_n (h_n - M_n)]
(discounted payoffs). The martingale is the one of Andersen and Broadie
(*Primal-dual simulation algorithm for pricing multidimensional American
options*, Management Science 50(9), 2004) built from the learned rule: along
each outer path, the value of continuing with the rule at every date is
estimated by nested inner simulation, and M moves by the realised change of
the rule's value minus its estimated conditional expectation. U is the mean
of max_n (h_n - M_n) over outer paths, with standard error s_U. The inner
noise only pushes U up, so U stays an upper bound.

**Variance reduction.** The discounted asset prices (dividends reinvested),
m_i(t) = exp(-(r - q_i) t) S_i(t) / S_i(0), are martingales, so by optional
stopping any bounded trading gain sum_n a_n . (m(t_{n+1}) - m(t_n)), with a_n
known at t_n and stopped at the rule's exercise date, has mean zero.
Subtracting such a gain from a reward leaves its mean unchanged and can remove
most of its noise. The lower-bound samples and the training targets of the
exercise networks subtract a fixed multiple of the stopped increment of m (the
multiple fitted by least squares on the training paths, hence independent of
the paths it is applied to).

**Hedge in the upper bound.** The inner estimates are what makes the
Andersen-Broadie bound loose: their noise enters the maximum over the dates,
most on a fine grid. So after training, one network C(t_n, x) with the time as
an input is fitted by least squares, on fresh paths, to the discounted reward
the rule realises after each date (`deepbsde.pricing.continuation`; softplus
units, so its gradient is smooth). Each inner path then subtracts the gains of
holding dC/dm_i units of asset i between consecutive dates while the rule
continues: nearly all of the reward's dependence on the asset moves. The fit
can be poor without harm to the certificate (the gains have mean zero whatever
the hedge), it only decides how much noise is left. A Haugh-Kogan martingale
built from the same fitted value function (one-step inner samples instead of
nested paths to maturity) was tried too and dropped: its bound was looser than
the nested one, because every date's regression error adds to it.

**Interval.** [L - 1.96 s_L, U + 1.96 s_U] contains the price with probability
at least 95% (two one-sided 97.5% statements, in the normal approximation). The point estimate is (L + U)/2.
The closer the learned rule is to optimal, the smaller U - L.

**Deltas** at t = 0 are pathwise derivatives of each lower-bound path's
discounted payoff with respect to the spots, holding the path's exercise date
fixed (for a near-optimal rule the exercise boundary moves the price only to
second order).

**Reading the table.** For d = 2 and 5 the gap U - L is the distance of the
learned rule from the optimal one plus the upward bias of the nested
simulation; it shrinks with training and inner paths, at a cost that grows
with both. The d = 50 and d = 100 rows use far fewer paths and training steps,
so their intervals are wider (mainly the upper bound: 500 x 300 nested
paths). On the American put the nested simulation costs the square of the
number of dates, 100 here, hence the smaller outer and inner path counts. The
Bermudan on the grid is worth slightly less than the American option (both
tree values are above the table); the interval certifies the former, the error
column compares with the latter.

**Where the hedge does not pay.** The hedge narrows the interval at d <= 50
and on the put. At d = 100 it widened it: s_U 0.187 here against 0.120 in
the table made without the hedge (commit cf27c33, same path counts, before the
exercise networks trained on control-variate targets), so a continuation value
fitted on 2^16 paths hedges 100 assets worse than the fixed multiple does.
Pass `hedge=False` there; choosing the control variate automatically (a pilot
on independent paths comparing the two) is not built yet.

**Why deep optimal stopping.** The alternative backward scheme learns the
continuation value by regression and stops where the payoff exceeds it. Its
polynomial version, Longstaff-Schwartz (`deepbsde.reference.longstaff_schwartz`,
an independent numpy implementation), is listed for d <= 5 in the column LSM
below with its 95% half-width: its exercise rule applied to fresh paths is a
lower bound like L, and the comparison of the two lower bounds is the
measurement behind the choice. Deep optimal stopping optimises the exercise
decision itself, the quantity the lower bound measures, rather than a
regression error that only indirectly decides where to stop, and its cost does
not grow with the size of a polynomial basis in high dimension.
"""


def _row(label: str, result: EarlyExercisePrice, seconds: float, reference: float | None,
         reference_name: str, extra: str = "") -> str:
    low, high = result.interval
    width = 100 * (high - low) / result.price
    if reference is None:
        ref, error, inside = "", "", ""
    else:
        ref = f"{reference:.4f} ({reference_name})" if reference_name else f"{reference:.2f}"
        error = f"{100 * (result.price - reference) / reference:+.3f}%"
        inside = "yes" if low <= reference <= high else "**no**"
    return (f"| {label} | {seconds:.0f} | {result.lower:.4f} ({result.lower_std_error:.4f}) | "
            f"{result.upper:.4f} ({result.upper_std_error:.4f}) | [{low:.4f}, {high:.4f}] | {width:.2f}% | "
            f"{result.price:.4f} | {ref} | {error} | {inside} | {extra} |")


def _max_call(dim: int, spot: float, settings: dict[str, Any], seed: int) -> tuple[EarlyExercisePrice, float]:
    model = BlackScholesModel([spot] * dim, 0.05, 0.2, 0.1)
    start = time.perf_counter()
    result = price_early_exercise(MaxCall(100.0), model, 3.0, MAX_CALL_DATES, seed=seed, **settings)
    return result, time.perf_counter() - start


def run_table(groups: list[str], seed: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """(markdown row, solver settings) of the chosen groups of cases, by case label."""
    rows = {}
    for group in groups:
        if group == "american":
            rows["american"] = (_american_row(seed), AMERICAN)
            continue
        if group == "hedge":
            rows["hedge"] = (_hedge_comparison(seed), {})
            continue
        for dim, spot in GROUPS[group]:
            result, seconds = _max_call(dim, spot, SETTINGS[dim], seed)
            extra = ""
            if dim <= 5:
                lsm = longstaff_schwartz(MaxCall(100.0), BlackScholesModel([spot] * dim, 0.05, 0.2, 0.1), 3.0,
                                         MAX_CALL_DATES.dates, paths=2 ** 17, seed=seed)
                extra = f"{lsm.value:.3f} ± {lsm.half_width:.3f}"
            label = f"max-call d = {dim}, S0 = {spot:g}"
            rows[label] = (_row(label, result, seconds, PUBLISHED.get((dim, spot)), "", extra), SETTINGS[dim])
            print(rows[label][0], flush=True)
    return rows


def _put_on_tree(exercise: Any) -> float:
    """The American put of the table (S0 = K = 100, r = 0.06, sigma = 0.2, T = 1) on a 10,000-step CRR tree."""
    return binomial_price(100.0, 100.0, 0.06, 0.2, 1.0, call=False, steps=10_000, exercise=exercise)


def _american_row(seed: int) -> str:
    start = time.perf_counter()
    tree = _put_on_tree("american")
    tree_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = price_early_exercise(MinPut(100.0), BlackScholesModel([100.0], 0.06, 0.2), 1.0,
                                  American(AMERICAN_STEPS), seed=seed, **AMERICAN)
    seconds = time.perf_counter() - start
    row = _row(f"American put, American({AMERICAN_STEPS})", result, seconds, tree,
               f"CRR 10,000 steps, {tree_seconds:.2f} s")
    print(row, flush=True)
    return row


def _hedge_comparison(seed: int) -> str:
    """Markdown table: the upper bound of one policy with the fixed-multiple control variate and with the hedge."""
    dates = np.linspace(0.0, 1.0, HEDGE_DATES + 1)
    tree = _put_on_tree(dates)
    problem = StoppingProblem.build(MinPut(100.0), BlackScholesModel([100.0], 0.06, 0.2), dates, 100.0)
    policy = train_policy(problem, seed=seed, **HEDGE_POLICY)
    lower = lower_bound(policy, seed=seed, paths=2 ** 20)
    start = time.perf_counter()
    hedge = fitted_hedge(policy, seed=seed)
    fit_seconds = time.perf_counter() - start
    rows = []
    for hedged, inner in HEDGE_RUNS:
        start = time.perf_counter()
        upper, error = upper_bound(policy, seed=seed, outer_paths=HEDGE_OUTER, inner_paths=inner,
                                   hedge=hedge if hedged else None)
        name = "hedge" if hedged else "fixed multiple"
        rows.append(f"| {name} | {HEDGE_OUTER} x {inner} | {upper:.4f} ({error:.4f}) "
                    f"| {100 * (upper / tree - 1):+.2f}% | {time.perf_counter() - start:.0f} |")
        print(rows[-1], flush=True)
    return f"""## The hedge in the upper bound, measured

A put (S0 = K = 100, r = 0.06, sigma = 0.2, T = 1) on {HEDGE_DATES} equal steps; its Bermudan value on
the CRR tree (10,000 steps) is {tree:.4f}. One policy (`train_policy` with `{HEDGE_POLICY}`) has the lower
bound {lower.mean:.4f} ({lower.std_error:.4f}). Its Andersen-Broadie upper bound with the fixed multiple of
the asset price's increment as the inner control variate, and with the hedge of the fitted continuation
value (fitted in {fit_seconds:.0f} s), for several inner path counts:

| inner control variate | outer x inner paths | upper (s_U) | above the tree | time (s) |
|---|---|---|---|---|
{chr(10).join(rows)}
"""


def write_doc(rows: dict[str, tuple[str, dict[str, Any]]], command: str, seconds: float) -> Path:
    """Adds the measured rows to docs/bermudan.json and writes docs/bermudan.md from all stored rows."""
    store = REPO / "docs" / "bermudan.json"
    stored = json.loads(store.read_text()) if store.exists() else {}
    for label, (row, settings) in rows.items():
        stored[label] = {"row": row, "settings": settings, "command": command, "minutes": round(seconds / 60, 1)}
    order = [f"max-call d = {d}, S0 = {s:g}" for group in GROUPS.values() for d, s in group] + ["american"]
    stored = {label: stored[label] for label in [*order, "hedge"] if label in stored}
    hedge = stored.get("hedge")
    table = {label: entry for label, entry in stored.items() if label != "hedge"}
    store.write_text(json.dumps(stored, indent=1) + "\n")
    commands = list(dict.fromkeys(f"`{entry['command']}` ({entry['minutes']} min)" for entry in stored.values()))
    path = REPO / "docs" / "bermudan.md"
    settings = "\n".join(f"- {label}: `{entry['settings']}`" for label, entry in table.items())
    text = f"""# Bermudan and American options with certified bounds

Made by {", ".join(commands)}, on {platform.machine()} with {os.cpu_count()} CPU cores (shared with
other jobs, so times are indicative), float32, fixed seeds.

Max-call: payoff max(max_i S_i - 100, 0), r = 0.05, dividend yield 0.1, sigma = 0.2, independent
assets, T = 3, exercise at t = 0, 1/3, ..., 3. American put: S0 = K = 100, r = 0.06, sigma = 0.2, T = 1,
priced as a Bermudan on {AMERICAN_STEPS} equal steps (`American({AMERICAN_STEPS})`) against a CRR tree
with 10,000 steps (`deepbsde.reference.binomial`): American {_put_on_tree("american"):.4f}, Bermudan on the
same {AMERICAN_STEPS} steps {_put_on_tree(np.linspace(0.0, 1.0, AMERICAN_STEPS + 1)):.4f}.

Columns: time (training + both bounds, seconds); lower bound L (s_L); upper bound U (s_U); the 95%
interval [L - 1.96 s_L, U + 1.96 s_U]; its width relative to the price; the point estimate (L + U)/2;
the published value (Andersen and Broadie 2004; Becker, Cheridito and Jentzen 2019) or the tree; the
point estimate's relative error; whether the reference lies inside the interval; LSM: the
Longstaff-Schwartz estimate (degree-3 polynomials, 2^17 regression and 2^17 fresh paths) with its 95%
half-width.

| case | time (s) | lower (s_L) | upper (s_U) | 95% interval | width | point | reference | error | inside | LSM |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(entry['row'] for entry in table.values())}

Solver settings of each row (`price_early_exercise` keyword arguments; the rest are the defaults,
among them `hedge=True`):
{settings}

{METHOD}
{hedge['row'] if hedge else ''}"""
    path.write_text(text)
    return path


def price_config(path: Path) -> EarlyExercisePrice:
    """Prices one `kind: bermudan` config and prints the result."""
    job = early_exercise_job(parse_yaml(path.read_text()))
    start = time.perf_counter()
    result = job.run()
    low, high = result.interval
    print(f"{path.name}: price {result.price:.4f}, lower {result.lower:.4f} ({result.lower_std_error:.4f}), "
          f"upper {result.upper:.4f} ({result.upper_std_error:.4f}), 95% interval [{low:.4f}, {high:.4f}], "
          f"{time.perf_counter() - start:.0f} s")
    if job.published is not None:
        print(f"published {job.published}: error {100 * (result.price / job.published - 1):+.3f}%")
    print("exercise probability per date:", np.round(result.exercise_probability, 4).tolist())
    print("deltas at t = 0:", np.round(result.deltas, 4).tolist(), f"({result.deltas_method})")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="price one `kind: bermudan` config instead of the table")
    parser.add_argument("--cases", nargs="*", choices=[*GROUPS, "american", "hedge"],
                        default=[*GROUPS, "american", "hedge"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.config:
        price_config(args.config)
        return
    start = time.perf_counter()
    rows = run_table(args.cases, args.seed)
    command = " ".join(["python scripts/bermudan_table.py", *(argv if argv is not None else sys.argv[1:])])
    print("wrote", write_doc(rows, command, time.perf_counter() - start))


if __name__ == "__main__":
    main()
