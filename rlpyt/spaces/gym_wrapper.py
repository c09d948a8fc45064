"""Conversion between gymnasium spaces/values and rlpyt spaces/values.

* ``Box`` (float): ``FloatBox`` (float32 unless ``force_float32=False``);
* ``Box`` (int, bool): ``IntBox`` with ``high + 1`` (rlpyt's high is exclusive);
* ``Discrete(n, start)``: ``IntBox(start, start + n)``, shape ``()``;
* ``MultiDiscrete``: ``IntBox(start, start + nvec)``;
* ``MultiBinary``: ``IntBox(0, 2)``, dtype int8;
* ``Dict``, ``Tuple``: ``Composite`` whose values are namedarraytuples (``Tuple``
  fields are named ``f0, f1, ...``).

Any other space (``Text``, ``Graph``, ``Sequence``, ``OneOf``...) is refused.
"""

import operator

import numpy as np
from gymnasium import spaces as gym_spaces

from rlpyt.spaces.composite import Composite
from rlpyt.spaces.float_box import FloatBox
from rlpyt.spaces.int_box import IntBox
from rlpyt.utils.collections import namedarraytuple

__all__ = ["GymSpaceWrapper", "convert_gym_space", "SUPPORTED_GYM_SPACES"]

SUPPORTED_GYM_SPACES = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")


def _unsupported(space, name):
    return TypeError(
        f"{name}: gymnasium space {type(space).__name__} is not supported; "
        f"supported spaces are {', '.join(SUPPORTED_GYM_SPACES)} (Dict/Tuple nest them)"
    )


def _field_name(key, name) -> str:
    if not (isinstance(key, str) and key.isidentifier() and not key.startswith("_")):
        raise ValueError(
            f"{name}: Dict space key {key!r} cannot be a field name; keys must be "
            "Python identifiers not starting with '_'"
        )
    return key


def _type_name(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(".", "_").split("_"))


def convert_gym_space(space, name: str = "observation", force_float32: bool = True):
    """The rlpyt space equivalent to a gymnasium space."""
    if isinstance(space, gym_spaces.Box):
        dtype = np.dtype(space.dtype)
        if np.issubdtype(dtype, np.floating):
            return FloatBox(
                space.low, space.high, space.shape, dtype=np.float32 if force_float32 else dtype
            )
        if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
            high = space.high.astype(np.int64) + 1
            return IntBox(space.low.astype(np.int64), high, space.shape, dtype=dtype)
        raise _unsupported(space, name)
    if isinstance(space, gym_spaces.Discrete):
        start = int(space.start)
        return IntBox(start, start + int(space.n), shape=(), dtype=np.int64)
    if isinstance(space, gym_spaces.MultiDiscrete):
        start = np.asarray(space.start, dtype=np.int64)
        return IntBox(start, start + space.nvec.astype(np.int64), space.nvec.shape, dtype=np.int64)
    if isinstance(space, gym_spaces.MultiBinary):
        return IntBox(0, 2, shape=space.shape, dtype=np.int8)
    if isinstance(space, gym_spaces.Dict):
        keys = [_field_name(k, name) for k in space.spaces]
        subs = [convert_gym_space(s, f"{name}.{k}", force_float32) for k, s in space.spaces.items()]
        return Composite(subs, namedarraytuple(_type_name(name), keys))
    if isinstance(space, gym_spaces.Tuple):
        keys = [f"f{i}" for i in range(len(space.spaces))]
        subs = [
            convert_gym_space(s, f"{name}.f{i}", force_float32) for i, s in enumerate(space.spaces)
        ]
        return Composite(subs, namedarraytuple(_type_name(name), keys))
    raise _unsupported(space, name)


def _converter(gym_space, space):
    """Function turning one gymnasium value into the rlpyt value (hot path: kept flat)."""
    if isinstance(space, Composite):
        subs = gym_space.spaces
        if isinstance(gym_space, gym_spaces.Dict):
            keys = list(subs)
            convs = [_converter(subs[k], s) for k, s in zip(keys, space.spaces)]
            Cls = space.NamedTupleCls
            return lambda v: Cls(*(c(v[k]) for c, k in zip(convs, keys)))
        convs = [_converter(g, s) for g, s in zip(subs, space.spaces)]
        Cls = space.NamedTupleCls
        return lambda v: Cls(*(c(x) for c, x in zip(convs, v)))
    dtype = space.dtype
    return lambda v: np.asarray(v, dtype=dtype)


def _reverter(gym_space, space):
    """Function turning one rlpyt value into what the gymnasium env expects."""
    if isinstance(space, Composite):
        subs = gym_space.spaces
        if isinstance(gym_space, gym_spaces.Dict):
            revs = [(k, _reverter(subs[k], s)) for k, s in zip(subs, space.spaces)]
            return lambda v: {k: r(x) for (k, r), x in zip(revs, v)}
        revs = [_reverter(g, s) for g, s in zip(subs, space.spaces)]
        return lambda v: tuple(r(x) for r, x in zip(revs, v))
    if isinstance(gym_space, gym_spaces.Discrete):
        # A Python int: toy-text envs index dicts with the action (FrozenLake's
        # ``P[s][a]``), which a 0-d array, unhashable, breaks. operator.index
        # refuses a float action instead of truncating it.
        return operator.index
    if isinstance(gym_space, gym_spaces.Box):
        gym_dtype = gym_space.dtype
        return lambda v: np.asarray(v, dtype=gym_dtype)
    return np.asarray


class GymSpaceWrapper:
    """A gymnasium space seen as an rlpyt space, with value conversion both ways.

    ``convert`` maps a gymnasium value to rlpyt (dicts to namedarraytuples,
    floats to float32); ``revert`` maps an rlpyt value back (e.g. an action).
    Attributes not defined here (``shape``, ``dtype``, ``n``, ``null_value``,
    ``sample``...) come from the rlpyt space.
    """

    def __init__(
        self, space, name: str = "observation", force_float32: bool = True, null_value=None
    ):
        self.gym_space = space
        self.space = convert_gym_space(space, name, force_float32)
        if null_value is not None and not isinstance(self.space, Composite):
            self.space.set_null_value(null_value)
        self._build_converters()

    def _build_converters(self):
        self.convert = _converter(self.gym_space, self.space)
        self.revert = _reverter(self.gym_space, self.space)

    def __getstate__(self):  # the converters are closures: rebuilt, not pickled
        return {"gym_space": self.gym_space, "space": self.space}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._build_converters()

    def __getattr__(self, name):
        if name in ("space", "gym_space", "__setstate__"):  # not yet set (unpickling)
            raise AttributeError(name)
        # Delegation to the wrapped gymnasium space.
        return getattr(self.space, name)

    def __repr__(self) -> str:
        return f"GymSpaceWrapper({self.space!r})"
