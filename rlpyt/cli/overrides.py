"""Changing a config by dotted keys: ``--set algo.learning_rate=3e-4`` (:func:`apply_override`).

Unknown keys are refused with the closest match, by
:func:`rlpyt.utils.launching.variant.update_config`, except under the pass-through sections
(:data:`OPEN_SECTIONS`, such as ``env.kwargs``), whose keys go to constructors as they are.
"""

import ast
import copy

from rlpyt.utils.launching.variant import UnknownConfigKeyError, update_config

__all__ = ["apply_override", "apply_overrides", "flatten"]


def flatten(config: dict, prefix: str = "") -> dict:
    """``{"algo.learning_rate": 1e-3, ...}`` for every leaf."""
    out = {}
    for k, v in config.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, path + "."))
        else:
            out[path] = v
    return out


def _parse_value(text: str):
    """A python literal (numbers, booleans, None, lists, dicts), else the string itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


# Keys that may be added under these sections (they pass through to constructors).
OPEN_SECTIONS = (
    "env.kwargs",
    "agent.model_kwargs",
    "agent.kwargs",
    "agent.q_model_kwargs",
    "algo.optim_kwargs",
    "algo.replay_kwargs",
    "scheme.ray_init_kwargs",
)


def apply_override(config: dict, assignment: str) -> dict:
    """Apply ``"dotted.key=value"`` to ``config`` (in place: its sections are replaced by
    updated copies); returns it.

    The value is parsed as a python literal (:func:`_parse_value`). As in a config file, a
    dict value is merged into the section it names, and unknown keys are refused with the
    closest valid key, except under the pass-through sections such as ``env.kwargs``,
    ``agent.model_kwargs`` and ``algo.optim_kwargs``.
    """
    if "=" not in assignment:
        raise ValueError(f"--set expects key=value, got {assignment!r}")
    key, text = assignment.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if not all(parts):
        raise ValueError(f"--set {assignment!r}: the key {key!r} has an empty part")
    override = value = _parse_value(text.strip())
    for part in reversed(parts):
        override = {part: override}
    try:
        updated = update_config(config, override, open_keys=OPEN_SECTIONS)
    except UnknownConfigKeyError as err:
        raise UnknownConfigKeyError(f"{err} (valid keys: see --print-config)") from None
    except TypeError as err:
        raise TypeError(f"--set {key}={value!r}: {err}") from None
    config.update(updated)
    return config


def apply_overrides(config: dict, assignments) -> dict:
    """A copy of ``config`` with each ``"dotted.key=value"`` applied in turn."""
    config = copy.deepcopy(config)
    for assignment in assignments or ():
        apply_override(config, assignment)
    return config
