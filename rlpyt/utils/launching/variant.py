"""Experiment variants: grids of settings, their log directories, and config merging.

A study runs one default config under many *variants*, each a nested dict of the values
that differ from the default. Variants are built level by level:

>>> lr = VariantLevel(
...     keys=[("algo", "learning_rate")],
...     values=[(1e-3,), (3e-4,)],
...     dir_names=["lr_1e-3", "lr_3e-4"],
... )
>>> env = VariantLevel(
...     keys=[("env", "id"), ("runner", "n_steps")],
...     values=[("CartPole-v1", 100_000), ("Acrobot-v1", 200_000)],
...     dir_names=["cartpole", "acrobot"],
... )
>>> variants, log_dirs = make_variants(lr, env)
>>> log_dirs
['lr_1e-3/cartpole', 'lr_1e-3/acrobot', 'lr_3e-4/cartpole', 'lr_3e-4/acrobot']
>>> variants[1]
{'algo': {'learning_rate': 0.001}, 'env': {'id': 'Acrobot-v1'}, 'runner': {'n_steps': 200000}}

Each run saves its variant next to its logs (:func:`save_variant`); the launched script reads
it back (:func:`load_variant`) and applies it to its default config with :func:`update_config`,
which refuses keys the default does not have, so a typo fails loudly instead of being ignored.
"""

import copy
import difflib
import itertools
import json
import os
from collections import Counter, namedtuple
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "VariantLevel",
    "make_variants",
    "save_variant",
    "load_variant",
    "update_config",
    "UnknownConfigKeyError",
    "did_you_mean",
    "VARIANT_FILE",
]

VARIANT_FILE = "variant_config.json"


class UnknownConfigKeyError(KeyError):
    """A key that the default config does not have. Prints its message without quotes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class VariantLevel(namedtuple("VariantLevel", ["keys", "values", "dir_names"])):
    """One axis of an experiment grid: settings that vary together.

    Args:
        keys: key paths into the config, one per varied value; each a tuple (or list) of
            nested dict keys, e.g. ``("algo", "learning_rate")``.
        values: one entry per setting, each a tuple (or list) holding one value per key.
        dir_names: one directory name per setting, used to build the runs' log directories.

    Raises ValueError or TypeError, naming the entry and the counts, when the shapes disagree.
    """

    __slots__ = ()

    def __new__(cls, keys, values, dir_names):
        keys = [_check_key_path(k, f"keys[{i}]") for i, k in enumerate(_as_list(keys, "keys"))]
        values = _as_list(values, "values")
        dir_names = _as_list(dir_names, "dir_names")
        if not values:
            raise ValueError("VariantLevel needs at least one setting; values is empty")
        if len(values) != len(dir_names):
            raise ValueError(
                f"VariantLevel has {len(values)} settings in values but {len(dir_names)} "
                "dir_names: give one directory name per setting"
            )
        for i, setting in enumerate(values):
            if isinstance(setting, str) or not isinstance(setting, Sequence):
                raise TypeError(
                    f"VariantLevel values[{i}] is {setting!r}: each setting must be a tuple "
                    f"of {len(keys)} value(s), one per key, e.g. ({setting!r},)"
                )
            if len(setting) != len(keys):
                raise ValueError(
                    f"VariantLevel values[{i}] has {len(setting)} value(s) but there are "
                    f"{len(keys)} keys: give one value per key"
                )
        for i, name in enumerate(dir_names):
            if not isinstance(name, str) or not name:
                raise TypeError(
                    f"VariantLevel dir_names[{i}] must be a non-empty str; got {name!r}"
                )
            if os.path.isabs(name):
                raise ValueError(
                    f"VariantLevel dir_names[{i}] {name!r} is an absolute path: dir names are "
                    "joined under the experiment's directory, so give a relative one"
                )
        return super().__new__(cls, keys, [tuple(v) for v in values], dir_names)


def _as_list(items, name: str) -> list:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise TypeError(f"VariantLevel {name} must be a list; got {items!r}")
    return list(items)


def _check_key_path(key, where: str) -> tuple:
    if isinstance(key, str) or not isinstance(key, Sequence) or not key:
        raise TypeError(
            f"VariantLevel {where} is {key!r}: a key path is a non-empty tuple of nested "
            f"keys, e.g. ('algo', 'learning_rate') or ({key!r},)"
        )
    return tuple(key)


def make_variants(*levels: VariantLevel) -> tuple[list[dict], list[str]]:
    """The cross product of the levels' settings: ``(variants, log_dirs)``.

    Each variant is a nested dict holding one setting of every level; its log directory joins
    those settings' dir names with :func:`os.path.join`, in level order. The order is that of
    nested loops over the levels: the first level varies slowest and the last one fastest.

    Raises ValueError when two levels set the same key (or one sets a key inside a value that
    another sets), or when two variants would share a log directory.
    """
    if (
        len(levels) == 1
        and isinstance(levels[0], list | tuple)
        and not isinstance(levels[0], VariantLevel)
    ):
        raise TypeError(
            "make_variants takes the levels as separate arguments: make_variants(*levels)"
        )
    if not levels:
        raise ValueError("make_variants needs at least one VariantLevel")
    for i, level in enumerate(levels):
        if not isinstance(level, VariantLevel):
            raise TypeError(
                f"make_variants argument {i} is a {type(level).__name__}, not a VariantLevel"
            )
    _check_disjoint_keys(levels)
    variants, log_dirs = [], []
    for combination in itertools.product(*(range(len(level.values)) for level in levels)):
        variant = {}
        for level, index in zip(levels, combination):
            for key_path, value in zip(level.keys, level.values[index]):
                _set_path(variant, key_path, copy.deepcopy(value))
        variants.append(variant)
        log_dirs.append(
            os.path.join(*(level.dir_names[index] for level, index in zip(levels, combination)))
        )
    duplicates = sorted(d for d, count in Counter(log_dirs).items() if count > 1)
    if duplicates:
        raise ValueError(
            f"variants share log directories {duplicates}: make each level's dir_names unique"
        )
    return variants, log_dirs


def _check_disjoint_keys(levels: Sequence[VariantLevel]) -> None:
    """No key path set twice, and none nested inside another (their values would collide)."""
    seen = []  # (key path, level index)
    for i, level in enumerate(levels):
        for path in level.keys:
            for other, j in seen:
                shorter = min(len(path), len(other))
                if path[:shorter] == other[:shorter]:
                    where = f"level {j}" if i != j else "the same level"
                    raise ValueError(
                        f"key path {path} of level {i} overlaps {other} of {where}: each "
                        "config value may be varied by one key only"
                    )
            seen.append((path, i))


def _set_path(tree: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def save_variant(variant: Mapping, log_dir: str) -> str:
    """Write ``variant`` to ``log_dir/variant_config.json`` (creating ``log_dir``); its path.

    The file is written atomically (a temp file, then a rename). JSON turns tuples into lists.
    """
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, VARIANT_FILE)
    try:
        text = json.dumps(variant, indent=2)
    except TypeError as err:
        raise TypeError(f"variant for {log_dir} cannot be saved as JSON: {err}") from None
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(tmp, path)
    return path


def load_variant(log_dir: str) -> dict:
    """The variant saved in ``log_dir`` by :func:`save_variant`."""
    path = os.path.join(log_dir, VARIANT_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no variant in {log_dir}: {path} does not exist (written by save_variant)"
        ) from None
    try:
        variant = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON (line {err.lineno}): {err.msg}") from None
    if not isinstance(variant, dict):
        raise ValueError(f"{path} holds a {type(variant).__name__}, not a variant dict")
    return variant


def update_config(default: Mapping, variant: Mapping, *, open_keys: Iterable = ()) -> dict:
    """A deep copy of ``default`` with the values of ``variant`` merged in; ``default`` is unchanged.

    Nested dicts are merged key by key, so a variant names only the values it changes. Every key
    of the variant must exist in the default; otherwise :class:`UnknownConfigKeyError` (a
    KeyError) names the full dotted key and the closest existing keys ("did you mean ...?").
    A dict cannot replace a value that is not a dict, nor the other way round (TypeError).

    Args:
        open_keys: key paths (tuples, or dotted strings) of sections that take any keys, such
            as keyword arguments passed through to a constructor: keys under them, and the
            section itself, may be added even where the default lacks them.
    """
    if not isinstance(default, Mapping):
        raise TypeError(f"update_config: the default config must be a dict; got {default!r}")
    if not isinstance(variant, Mapping):
        raise TypeError(f"update_config: the variant must be a dict; got {variant!r}")
    open_paths = [tuple(k.split(".")) if isinstance(k, str) else tuple(k) for k in open_keys]
    merged = copy.deepcopy(dict(default))
    _merge(merged, variant, (), open_paths, root=default)
    return merged


def _merge(target: dict, variant: Mapping, prefix: tuple, open_paths: list, root: dict) -> None:
    for key, value in variant.items():
        path = prefix + (key,)
        if key not in target:
            if not any(path[: len(o)] == o for o in open_paths):
                raise UnknownConfigKeyError(_unknown_key_message(path, target, root, open_paths))
            target[key] = copy.deepcopy(value)
        elif isinstance(target[key], Mapping):
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"config key {_dotted(path)!r} is a section (a dict) and cannot be set "
                    f"to {value!r}: set the values inside it instead"
                )
            _merge(target[key], value, path, open_paths, root)
        elif isinstance(value, Mapping):
            raise TypeError(
                f"config key {_dotted(path)!r} holds {target[key]!r}, not a section: cannot "
                f"merge the dict {dict(value)!r} into it"
            )
        else:
            target[key] = copy.deepcopy(value)


def _dotted(path: Sequence) -> str:
    return ".".join(str(k) for k in path)


def did_you_mean(word: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> str:
    """``"did you mean 'a' or 'b'?"`` for the candidates closest to ``word``; ``""`` if none."""
    return _hint(difflib.get_close_matches(word, list(candidates), n=n, cutoff=cutoff))


def _hint(options: Sequence[str]) -> str:
    if not options:
        return ""
    quoted = [repr(o) for o in options]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"did you mean {listed}?"


def _unknown_key_message(path: tuple, level: Mapping, root: Mapping, open_paths: list) -> str:
    """Names the unknown key and suggests the closest keys beside it, else anywhere."""
    dotted = _dotted(path)
    parent = path[:-1]
    # Open sections absent from the default may still be set: they count as keys here.
    extra = [str(o[-1]) for o in open_paths if o[:-1] == parent and o[-1] not in level]
    siblings = [str(k) for k in level] + extra
    close = difflib.get_close_matches(str(path[-1]), siblings, n=3, cutoff=0.6)
    if close:  # shown as full dotted keys, as they are typed on the command line
        hint = _hint([_dotted(parent + (name,)) for name in close])
    else:  # a key in the wrong section: "sampler.learning_rate" for "algo.learning_rate"
        elsewhere = {_dotted(p): str(p[-1]) for p in _all_key_paths(root) + open_paths}
        elsewhere = {
            d: name for d, name in elsewhere.items() if d.rpartition(".")[0] != _dotted(parent)
        }
        names = difflib.get_close_matches(str(path[-1]), set(elsewhere.values()), 3, 0.6)
        # Closest names first; a name found in several sections lists each of them.
        hint = _hint([d for name in names for d, n in elsewhere.items() if n == name][:3])
    if hint:
        return f"unknown config key {dotted!r}; {hint}"
    where = f"under {_dotted(parent)!r}" if parent else "at the top level"
    return f"unknown config key {dotted!r}; the keys {where} are: {', '.join(sorted(siblings))}"


def _all_key_paths(tree: Mapping, prefix: tuple = ()) -> list[tuple]:
    paths = []
    for key, value in tree.items():
        paths.append(prefix + (key,))
        if isinstance(value, Mapping):
            paths.extend(_all_key_paths(value, prefix + (key,)))
    return paths
