"""Option pricing for quants: `price` a payoff on d assets, with deltas and a Monte Carlo check;
`price_function` for prices, deltas and vegas over a region of spots and parameters."""
from deepbsde.pricing.book import BOOK_OPTIONS, PriceFunction, load_price_function, price_function
from deepbsde.pricing.european import PRICING_OPTIONS, PRICING_TIME_STEPS, PriceResult, price, pricing_equation

__all__ = ["BOOK_OPTIONS", "PRICING_OPTIONS", "PRICING_TIME_STEPS", "PriceFunction", "PriceResult",
           "load_price_function", "price", "price_function", "pricing_equation"]
