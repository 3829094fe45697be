"""Type aliases of the public API (for annotations only)."""

from typing import Any, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "FloatArray", "FloatScalar", "Reduction", "Scalarish"]

FloatArray: TypeAlias = NDArray[np.floating[Any]]
"""A float32 or float64 array (the dtype of the input)."""
FloatScalar: TypeAlias = np.floating[Any]
"""A NumPy scalar of the input's float dtype (a reduced loss)."""
Scalarish: TypeAlias = FloatScalar | FloatArray
"""A reduction's result: a NumPy scalar when nothing is left, else an array."""
Reduction: TypeAlias = Literal["mean", "sum", "none"]
