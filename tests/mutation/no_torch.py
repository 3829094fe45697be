"""pytest plugin (``-p no_torch``): run the suite as if PyTorch were not installed.

``import torch`` raises ImportError, so every ``pytest.importorskip("torch")`` skips: this is
what the wheel builds' tests see (the ``test`` extra has no torch).
"""

import sys

sys.modules["torch"] = None  # type: ignore[assignment]
