"""Option pricing for quants: `price` a payoff on d assets (European by the deep BSDE method
with deltas and a Monte Carlo check; Bermudan and American with certified bounds), and
`price_function` for prices, deltas and vegas over a region of spots and parameters."""
from deepbsde.pricing.book import BOOK_OPTIONS, PriceFunction, load_price_function, price_function
from deepbsde.pricing.early_exercise import American, Bermudan, EarlyExercisePrice, price_early_exercise
from deepbsde.pricing.european import PRICING_OPTIONS, PRICING_TIME_STEPS, PriceResult, price, pricing_equation

__all__ = ["BOOK_OPTIONS", "PRICING_OPTIONS", "PRICING_TIME_STEPS", "American", "Bermudan", "EarlyExercisePrice",
           "PriceFunction", "PriceResult", "load_price_function", "price", "price_early_exercise", "price_function",
           "pricing_equation"]
