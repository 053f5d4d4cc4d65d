"""The training log: one record per logged step."""
from __future__ import annotations

from dataclasses import dataclass

#: Columns of a history, in order (also the header of history.csv).
HISTORY_FIELDS = ("step", "loss", "value", "learning_rate", "elapsed")


@dataclass(frozen=True)
class HistoryRecord:
    """One logged point of training; loss is on the fixed validation batch."""

    step: int
    loss: float
    value: float
    learning_rate: float
    elapsed: float

    def row(self) -> list[float]:
        """The record's values in HISTORY_FIELDS order."""
        return [getattr(self, name) for name in HISTORY_FIELDS]


