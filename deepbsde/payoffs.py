"""Kept so that `from deepbsde.payoffs import MaxCall` still works; the payoffs
live in deepbsde.finance.payoffs."""
from deepbsde.finance.payoffs import (
                                      PAYOFFS,
                                      BasketCall,
                                      BestOfCall,
                                      CallSpreadOnMax,
                                      MaxCall,
                                      MinPut,
                                      Payoff,
                                      WorstOfPut,
                                      payoff_from_params,
)

__all__ = ["PAYOFFS", "BasketCall", "BestOfCall", "CallSpreadOnMax", "MaxCall", "MinPut", "Payoff", "WorstOfPut",
           "payoff_from_params"]
