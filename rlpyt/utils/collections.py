"""Named collections of arrays: ``namedarraytuple`` and ``AttrDict``.

A *namedarraytuple* is a :func:`collections.namedtuple` whose ``[]`` operator
reaches into every field instead of selecting a field::

    Obs = namedarraytuple("Obs", ["image", "joints"])
    obs = Obs(image=np.zeros((T, B, 84, 84)), joints=np.zeros((T, B, 7)))
    obs[t]            # Obs(image=<[B, 84, 84]>, joints=<[B, 7]>)
    obs[t] = other    # field-wise write when ``other`` has the same fields
    obs[t] = 0        # otherwise the value is broadcast into every field

``None`` fields are empty placeholders: indexing leaves them ``None`` and writes
skip them. Fields may themselves be namedarraytuples, so whole nested structures
(e.g. a batch of samples) are read and written with one expression. Plain tuple
indexing is still available through :meth:`get`.

Classes made here pickle *by value* (typename and field names), so instances and
classes travel to worker processes under fork, spawn and forkserver alike, even
when the class was created dynamically and is not a module global.
"""

import copyreg
from collections import namedtuple
from collections.abc import Iterable
from typing import Any

__all__ = [
    "namedarraytuple",
    "namedarraytuple_like",
    "is_namedtuple",
    "is_namedtuple_class",
    "is_namedarraytuple",
    "is_namedarraytuple_class",
    "AttrDict",
]

_RESERVED = ("get", "items", "_fields", "_make", "_replace", "_asdict")


class _NamedArrayTupleMeta(type):
    """Metaclass whose only job is to let generated classes pickle by value."""


# Cache of generated classes: the same (typename, fields) gives the same class
# within a process, so isinstance checks hold after an unpickle.
_CLASSES: dict[tuple[str, tuple[str, ...]], type] = {}


def _reduce_class(cls):
    if cls.__dict__.get("_nat_generated", False):
        return namedarraytuple, (cls.__name__, cls._fields)
    # A user subclass of a generated class: pickle by reference, as usual.
    return cls.__qualname__


copyreg.pickle(_NamedArrayTupleMeta, _reduce_class)


def _field_error(self, j: int, err: Exception) -> Exception:
    """Re-raise ``err`` with the path of the offending field in its message."""
    msg = f"in {type(self).__name__}.{self._fields[j]}: {err}"
    try:
        return type(err)(msg)
    except Exception:  # exception types with unusual constructors
        return RuntimeError(msg)


def _getitem(self, loc):
    try:
        return type(self)(*(None if s is None else s[loc] for s in self))
    except (IndexError, TypeError, ValueError, KeyError) as err:
        for j, s in enumerate(self):
            if s is None:
                continue
            try:
                s[loc]
            except Exception as field_err:
                raise _field_error(self, j, field_err) from err
        raise


def _setitem(self, loc, value):
    broadcast = not is_namedtuple(value)
    if broadcast:
        values = (value,) * len(self)  # one value written into every field
    elif value._fields != self._fields:
        raise ValueError(
            f"cannot write {type(value).__name__}{value._fields} into "
            f"{type(self).__name__}{self._fields}: fields differ"
        )
    else:
        values = value
    for j, (s, v) in enumerate(zip(self, values)):
        if s is None:
            if broadcast or v is None:
                continue  # None is an empty placeholder
            raise TypeError(
                f"in {type(self).__name__}.{self._fields[j]}: "
                "cannot write a value into a None field"
            )
        if v is None:
            continue  # a None source field leaves the destination as it is
        try:
            s[loc] = v
        except (IndexError, TypeError, ValueError, KeyError) as err:
            raise _field_error(self, j, err) from err


def _contains(self, key):
    return key in self._fields


def _get(self, index):
    """Plain tuple indexing: the ``index``-th field."""
    return tuple.__getitem__(self, index)


def _items(self):
    """Iterate over ``(field_name, value)`` pairs, like ``dict.items()``."""
    return zip(self._fields, self)


def namedarraytuple(typename: str, field_names: Iterable[str] | str) -> type:
    """Return a namedtuple class whose ``[]`` indexes into every field.

    Args:
        typename: class name.
        field_names: sequence of field names, or one string separated by spaces
            or commas (as for :func:`collections.namedtuple`).
    """
    if isinstance(field_names, str):
        field_names = field_names.replace(",", " ").split()
    fields = tuple(field_names)
    for name in fields:
        if name in _RESERVED:
            raise ValueError(f"namedarraytuple {typename}: field name {name!r} is reserved")
    key = (typename, fields)
    cls = _CLASSES.get(key)
    if cls is not None:
        return cls
    base = namedtuple(typename, fields)
    body = {
        "__slots__": (),
        "__getitem__": _getitem,
        "__setitem__": _setitem,
        "__contains__": _contains,
        "get": _get,
        "items": _items,
        "_nat_generated": True,
        "__module__": __name__,
        "__doc__": f"namedarraytuple ``{typename}{fields}``: indexing applies to every field.",
    }
    cls = _NamedArrayTupleMeta(typename, (base,), body)
    _CLASSES[key] = cls
    return cls


def namedarraytuple_like(example: Any) -> type:
    """Namedarraytuple class with the name and fields of a namedtuple (instance or class)."""
    cls = example if isinstance(example, type) else type(example)
    if is_namedarraytuple_class(cls):
        return cls
    if is_namedtuple_class(cls):
        return namedarraytuple(cls.__name__, cls._fields)
    raise TypeError(f"namedarraytuple_like needs a namedtuple, got {cls.__name__}")


def is_namedtuple_class(obj: Any) -> bool:
    """True for namedtuple classes (including namedarraytuple classes)."""
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def is_namedtuple(obj: Any) -> bool:
    """True for namedtuple instances (including namedarraytuples)."""
    return is_namedtuple_class(type(obj))


def is_namedarraytuple_class(obj: Any) -> bool:
    return is_namedtuple_class(obj) and isinstance(obj, _NamedArrayTupleMeta)


def is_namedarraytuple(obj: Any) -> bool:
    return is_namedarraytuple_class(type(obj))


class AttrDict(dict):
    """A dict whose keys are also attributes: ``d.lr is d["lr"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"AttrDict has no key {name!r}") from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"AttrDict has no key {name!r}") from None

    def copy(self) -> "AttrDict":
        return type(self)(self)
