from ._kernels import *  # noqa: F403
from ._kernels import _set_grain as _set_grain
