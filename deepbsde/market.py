"""Kept so that `from deepbsde.market import BlackScholesModel` still works; the
market model lives in deepbsde.finance.market."""
from deepbsde.finance.market import BlackScholesModel

__all__ = ["BlackScholesModel"]
