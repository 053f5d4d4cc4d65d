"""scripts/compare_torchbsde.py without the peer: its mapping of the peer's settings, FLOP count and report."""
import json
import sys
from pathlib import Path

import deepbsde

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from compare_torchbsde import REPO, matmul_flops, our_overrides, section_heading, write_report

#: the peer's configs/hjb_lq_d100.json, the fields the script reads
PEER = {"equation_config": {"dim": 100, "total_time": 1.0, "num_time_interval": 20},
        "network_config": {"num_hiddens": [110, 110]},
        "solver_config": {"batch_size": 256, "valid_size": 1024, "lr_start_value": 1e-2, "lr_decay_rate": 0.5,
                          "lr_boundaries": [2000], "num_iterations": 1000, "logging_frequency": 10,
                          "checkpoint_frequency": 100, "delta_clip": 50},
        "dtype": "float64"}


def test_our_run_gets_the_peers_settings():
    config = deepbsde.load_config(REPO / "configs" / "hjb.yaml", our_overrides(PEER, seed=3))
    solver, equation = config.solver, config.build_equation()
    assert (equation.dim, equation.num_time_interval, equation.total_time) == (100, 20, 1.0)
    assert (solver.batch_size, solver.valid_size, solver.iterations, solver.dtype) == (256, 1024, 1000, "float64")
    assert solver.hidden_widths == [110, 110] and solver.learning_rates == [1e-2, 5e-3]
    assert solver.lr_boundaries == [2000] and not solver.adaptive_schedule  # constant 1e-2 over the 1000 steps
    assert (solver.log_every, solver.checkpoint_every, solver.loss_clip, solver.seed) == (10, 100, 50.0, 3)


def test_matmul_flops_count_each_solvers_layers():
    flops, full = matmul_flops(PEER, full_linear_term=False), matmul_flops(PEER, full_linear_term=True)
    per_net = 100 * 110 + 110 * 110 + 110 * 100
    assert flops["peer"] == full["peer"] == 6 * 256 * (100 * 110 + 110 * 110 + 110 + 20 * per_net)
    assert flops["ours"] == 6 * 256 * 19 * per_net
    assert full["ours"] == 6 * 256 * 19 * (per_net + 100 * 100)


def report(threads):
    run = {"round": 1, "seed": 1, "wall_seconds": 2.0, "cpu_seconds": 3.0, "train_seconds": 1.0,
           "ms_per_iteration": 10.0, "value": 4.6, "rel_error": 0.002}
    environment = {"date": "today", "command": "compare", "git_commit": "abc", "tensorflow": "2",
                   "peer_commit": "f" * 40, "torch": "2", "cpu": "cpu", "cpu_cores_usable": 2,
                   "load_average_start": [1, 1, 1], "load_average_end": [1, 1, 1]}
    settings = {"threads": threads, "dim": 100, "num_time_interval": 20, "batch_size": 256, "iterations": 1000,
                "widths": [110, 110], "learning_rate": 0.01, "flops": matmul_flops(PEER, full_linear_term=False)}
    return {"environment": environment, "settings": settings, "reference": {"value": 4.59, "half_width": 0.0},
            "runs": [{**run, "solver": "peer"}, {**run, "solver": "ours", "ms_per_iteration": 5.0}]}


def test_report_replaces_only_the_section_of_its_thread_setting(tmp_path):
    out = tmp_path / "compare.md"
    out.write_text("# Benchmarks\n\n## Earlier section\n\nkept\n")
    write_report(report(1), out)
    write_report(report(None), out)
    write_report(report(1), out)  # again: replaces its section, keeps the other
    text = out.read_text()
    assert text.count(section_heading(1)) == 1 and text.count(section_heading(None)) == 1
    assert "## Earlier section\n\nkept" in text and "| | 2.00x | 1.00x | 1.00x | 1.00x | 1.00x |" in text
    assert sorted(json.loads(out.with_suffix(".json").read_text())["torchbsde"]) == ["1", "default"]
