"""The space interface shared by every rlpyt space."""

import numpy as np


class Space:
    """A set of values with a shape and dtype, and a seeded sampler.

    Each space owns its random generator (seeded through :meth:`seed`), so
    sampling never touches numpy's global random state.
    """

    def __init__(self):
        self._rng = np.random.default_rng()

    def seed(self, seed: int | None = None) -> None:
        """Seed this space's own random generator."""
        self._rng = np.random.default_rng(seed)

    def sample(self):
        """A uniformly random element of the space."""
        raise NotImplementedError

    def null_value(self):
        """The "no value" element: written after resets (e.g. a null prev_action)."""
        raise NotImplementedError

    def contains(self, x) -> bool:
        raise NotImplementedError

    @property
    def shape(self):
        raise NotImplementedError

    @property
    def dtype(self):
        raise NotImplementedError
