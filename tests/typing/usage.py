"""What mypy infers for typical calls of cxent's public API (checked by mypy in .ci/run).

Not a test module: ``python -m mypy tests/typing/usage.py`` reads it against the installed
package (py.typed); every ``assert_type`` must hold.
"""

from typing import Any, assert_type

import numpy as np
from numpy.typing import NDArray

import cxent

Arr = NDArray[np.floating[Any]]
Sca = np.floating[Any]

x = np.zeros((4, 3))
y = np.array([0, 1, 2, 0])

assert_type(cxent.softmax(x), Arr)
assert_type(cxent.log_softmax(x, axis=0), Arr)
assert_type(cxent.softmax_backward(x, x), Arr)
assert_type(cxent.logsumexp(x), Sca | Arr)
assert_type(cxent.logsumexp(x, return_sign=True), tuple[Sca | Arr, Sca | Arr])

assert_type(cxent.cross_entropy(x, y), Sca)
assert_type(cxent.cross_entropy(x, y, reduction="sum"), Sca)
assert_type(cxent.cross_entropy(x, y, reduction="none"), Arr)
assert_type(cxent.cross_entropy(x, y, return_grad=True), tuple[Sca, Arr])
assert_type(cxent.cross_entropy(x, y, reduction="none", return_grad=True), tuple[Arr, Arr])
assert_type(cxent.cross_entropy(x, y, return_grad=True, grad_out=np.empty((4, 3))), tuple[Sca, Arr])
assert_type(cxent.nll_loss(x, y, return_grad=True, grad_out=np.empty((4, 3))), tuple[Sca, Arr])
assert_type(cxent.cross_entropy(x, y, z_loss=1e-4, return_lse=True), tuple[Sca, Arr])
assert_type(cxent.cross_entropy(x, y, softcap=30.0, focal_gamma=2.0, return_grad=True,
                                return_lse=True), tuple[Sca, Arr, Arr])
assert_type(cxent.cross_entropy(x, y, reduction="none", return_lse=True), tuple[Arr, Arr])
loss, grad = cxent.cross_entropy(x, y, weight=[1.0, 2.0, 3.0], return_grad=True)
assert_type(grad, Arr)
assert_type(cxent.nll_loss(x, y), Sca)
assert_type(cxent.nll_loss(x, y, return_grad=True), tuple[Sca, Arr])
assert_type(cxent.binary_cross_entropy_with_logits(x, x), Sca)
assert_type(cxent.binary_cross_entropy_with_logits(x, x, return_grad=True), tuple[Sca, Arr])

assert_type(cxent.entropy(x), Sca | Arr)
assert_type(cxent.kl_divergence(x, x, base=2), Sca | Arr)
assert_type(cxent.log_loss(y, x), float)
assert_type(cxent.score(x, y), cxent.ScoreResult)
assert_type(cxent.score(x, y).samples_per_second, float)
assert_type(cxent.linear_cross_entropy(x, x, y), Sca)
gh, gw, gb = cxent.linear_cross_entropy(x, x, y, return_grad=True)[1]
assert_type(cxent.linear_cross_entropy(x, x, y, return_lse=True, z_loss=1e-4), tuple[Sca, Arr])
assert_type(gh, Arr)
assert_type(gb, Arr | None)
assert_type(cxent.show_config("dicts"), dict[str, Any])
assert_type(cxent.show_config(), None)
assert_type(cxent.release_memory(), int)
