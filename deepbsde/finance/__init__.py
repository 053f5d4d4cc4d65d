"""Financial building blocks below the equations: the Black-Scholes market, option
payoffs, and their exact ReLU networks (docs/method.md)."""
