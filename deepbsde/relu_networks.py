"""Kept so that `deepbsde.relu_networks` still works; the exact ReLU payoff
networks live in deepbsde.finance.relu_networks."""
from deepbsde.finance.relu_networks import basket_call, call_spread_on_max, max_call, max_depth, max_network, min_put

__all__ = ["basket_call", "call_spread_on_max", "max_call", "max_depth", "max_network", "min_put"]
