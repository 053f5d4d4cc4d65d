"""Option pricing for quants: `price` a payoff on d assets (European by the deep BSDE
method with deltas and a Monte Carlo check; Bermudan and American with certified bounds)."""
from deepbsde.pricing.early_exercise import American, Bermudan, EarlyExercisePrice, price_early_exercise
from deepbsde.pricing.european import PRICING_OPTIONS, PRICING_TIME_STEPS, PriceResult, price, pricing_equation

__all__ = ["PRICING_OPTIONS", "PRICING_TIME_STEPS", "American", "Bermudan", "EarlyExercisePrice", "PriceResult",
           "price", "price_early_exercise", "pricing_equation"]
