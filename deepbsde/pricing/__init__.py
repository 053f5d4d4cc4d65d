"""Option pricing for quants: `price` a payoff on d assets, with deltas and a Monte Carlo check."""
from deepbsde.pricing.european import PRICING_OPTIONS, PRICING_TIME_STEPS, PriceResult, price, pricing_equation

__all__ = ["PRICING_OPTIONS", "PRICING_TIME_STEPS", "PriceResult", "price", "pricing_equation"]
