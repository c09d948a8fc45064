"""A space made of named sub-spaces; its values are namedarraytuples."""

from rlpyt.spaces.base import Space
from rlpyt.utils.collections import namedarraytuple, namedarraytuple_like


class Composite(Space):
    """Named sub-spaces, e.g. ``Composite([IntBox(...), FloatBox(...)], Obs)``.

    ``NamedTupleCls`` (a namedtuple or namedarraytuple class whose fields name
    the sub-spaces in order) types every value: ``sample()``, ``null_value()``
    and even ``shape``/``dtype`` return instances of it.
    """

    def __init__(self, spaces, NamedTupleCls):
        super().__init__()
        self.spaces = list(spaces)
        self._NatCls = namedarraytuple_like(NamedTupleCls)
        if len(self._NatCls._fields) != len(self.spaces):
            raise ValueError(
                f"Composite: {len(self.spaces)} spaces but {NamedTupleCls.__name__} has "
                f"fields {self._NatCls._fields}"
            )
        self._ShapeCls = namedarraytuple(f"{self._NatCls.__name__}Shape", self._NatCls._fields)

    @property
    def names(self) -> tuple[str, ...]:
        return self._NatCls._fields

    @property
    def NamedTupleCls(self):
        return self._NatCls

    def seed(self, seed: int | None = None) -> None:
        super().seed(seed)
        children = self._rng.integers(2**32, size=len(self.spaces)) if seed is not None else None
        for i, space in enumerate(self.spaces):
            space.seed(None if children is None else int(children[i]))

    def sample(self):
        return self._NatCls(*(s.sample() for s in self.spaces))

    def null_value(self):
        return self._NatCls(*(s.null_value() for s in self.spaces))

    def contains(self, x) -> bool:
        return all(s.contains(v) for s, v in zip(self.spaces, x))

    @property
    def shape(self):
        return self._ShapeCls(*(s.shape for s in self.spaces))

    @property
    def dtype(self):
        return self._ShapeCls(*(s.dtype for s in self.spaces))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={s!r}" for n, s in zip(self.names, self.spaces))
        return f"Composite({self._NatCls.__name__}: {inner})"
