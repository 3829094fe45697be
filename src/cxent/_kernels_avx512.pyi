# Typing stub of cxent._kernels_avx512: the same functions as the baseline build.
from ._kernels import *  # noqa: F403
from ._kernels import _set_grain as _set_grain
