"""tf.function for a function of an object that each solve or check builds anew (any layer may use it)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf


def instance_function(method: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """tf.function(method, **options), its traces counted for this object (or call) alone.

    TensorFlow counts the traces of every tf.function by the code object of the Python function
    and warns of "retracing" once several happen within a few calls. A sampler built for each
    solve traces once and is called a few times, so a loop of solves in one process would read
    as retracing; the partial keeps TensorFlow's count per object.
    """
    return tf.function(functools.partial(method), **options)
