"""On CI every optional extra is installed, so no test may skip for a missing one.

Tests of optional features (Ray, MuJoCo, TensorBoard, pandas, EnvPool) skip when their package
is absent, which suits a developer's partial install; on CI (``CI`` set, as
``.ci/run`` runs under) a missing package would silently skip those tests, so it fails
here instead, naming the extra to add to the Makefile's ``EXTRAS``.
"""

import importlib.util
import os

import pytest

EXTRA_OF_MODULE = {
    "ray": "ray",
    "mujoco": "mujoco",
    "tensorboard": "tb",
    "pandas": "dev",
    "envpool": "envpool",
}


@pytest.mark.skipif(not os.environ.get("CI"), reason="only CI must have every extra")
@pytest.mark.parametrize("module", sorted(EXTRA_OF_MODULE))
def test_optional_dependency_is_installed_on_ci(module):
    assert importlib.util.find_spec(module) is not None, (
        f"{module} is not installed, so its tests would be skipped: add the "
        f"'{EXTRA_OF_MODULE[module]}' extra to EXTRAS in the Makefile"
    )
