"""pytest plugin (``-p no_torch``): run the suite as if PyTorch were not installed.

``import torch`` raises ModuleNotFoundError (a meta-path finder refuses it, and nothing named
torch is left in ``sys.modules``, which SciPy's array-API helpers inspect), so every
``pytest.importorskip("torch")`` skips: this is what the wheel builds' tests see (the ``test``
extra has no torch).
"""

import sys


class _NoTorch:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"{name} is hidden by the no_torch plugin", name=name)
        return None


sys.meta_path.insert(0, _NoTorch())
