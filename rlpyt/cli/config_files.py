"""Config files for ``python -m rlpyt train --config FILE`` and ``launch``: YAML or JSON.

A config file holds all of a config (:mod:`rlpyt.cli.configs`) or any part of it, e.g.::

    algo_name: ppo
    env: {id: CartPole-v1}
    algo: {learning_rate: 3.0e-4, epochs: 10}
    runner: {n_steps: 200000, seed: 1}

The ``config.json`` that ``python -m rlpyt train`` saves in each run directory is such a file:
training from it (into another ``--log-dir``) repeats the run.
"""

import functools
import json
import os

from rlpyt.cli.configs import ALGOS, default_config
from rlpyt.cli.overrides import OPEN_SECTIONS
from rlpyt.utils.launching.variant import UnknownConfigKeyError, did_you_mean, update_config

__all__ = ["CONFIG_FILE_SUFFIXES", "config_from_file", "default_log_dir", "read_config_file"]

CONFIG_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def default_log_dir(algo: str, env_id: str) -> str:
    """Where ``python -m rlpyt train`` logs runs when neither ``--log-dir`` nor a file says."""
    return os.path.join("data", "local", f"{algo}_{env_id}")


def config_from_file(path: str, algo: str | None = None, env_id: str | None = None) -> dict:
    """The config of ``default_config(algo, env_id)`` updated by the config file at ``path``.

    ``algo`` and ``env_id`` (the ``--algo`` and ``--env`` flags) take precedence over the
    file's ``algo_name`` and ``env.id``; the file must name what they leave out. The file's
    keys must exist in the default config (those under pass-through sections such as
    ``env.kwargs`` excepted): an unknown key is refused with the closest match. Unless the
    file sets ``logging.log_dir``, runs are logged under :func:`default_log_dir`.
    """
    settings = read_config_file(path)
    file_algo, file_env = _names_in_file(settings, path)
    algo, env_id = algo or file_algo, env_id or file_env
    needs = [
        need
        for need, name in (
            ("an algorithm (algo_name: ppo, or --algo)", algo),
            ("an env (env: {id: CartPole-v1}, or --env)", env_id),
        )
        if not name
    ]
    if needs:
        raise ValueError(
            f"config file {path} does not name {' or '.join(needs)}: add it to the file or "
            "give it on the command line"
        )
    try:
        config = default_config(algo, env_id)
    except ValueError as err:
        if algo == file_algo or env_id == file_env:  # the name may come from the file
            raise ValueError(f"config file {path}: {err}") from None
        raise
    config["logging"]["log_dir"] = default_log_dir(algo, env_id)
    try:
        config = update_config(config, settings, open_keys=OPEN_SECTIONS)
    except UnknownConfigKeyError as err:
        raise UnknownConfigKeyError(f"config file {path}: {err}") from None
    except TypeError as err:
        raise TypeError(f"config file {path}: {err}") from None
    config["algo_name"], config["env"]["id"] = algo, env_id
    return config


def _names_in_file(settings: dict, path: str) -> tuple[str | None, str | None]:
    """``(algo_name, env.id)`` of a config file (either may be None); checks their shape."""
    if isinstance(settings.get("algo"), str):
        raise ValueError(
            f"config file {path}: 'algo' is the section of the algorithm's settings (a "
            f"mapping); name the algorithm with algo_name: {settings['algo']}"
        )
    env = settings.get("env", {})
    if not isinstance(env, dict):
        raise ValueError(
            f"config file {path}: 'env' must be a mapping such as "
            f"{{id: {env if isinstance(env, str) else 'CartPole-v1'}, kwargs: {{}}}}; got {env!r}"
        )
    algo, env_id = settings.get("algo_name"), env.get("id")
    if algo is not None and algo not in ALGOS:
        hint = did_you_mean(str(algo), ALGOS) or f"one of {', '.join(ALGOS)}"
        raise ValueError(f"config file {path}: unknown algo_name {algo!r}; {hint}")
    if env_id is not None and not isinstance(env_id, str):
        raise ValueError(f"config file {path}: env.id must be a string; got {env_id!r}")
    return algo, env_id


def read_config_file(path: str) -> dict:
    """The mapping held by a YAML (``.yaml``, ``.yml``) or JSON (``.json``) file.

    Errors name the file and the cause: missing or unreadable file, unsupported suffix,
    a parse error (with its line), a top level that is not a mapping.
    """
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in CONFIG_FILE_SUFFIXES:
        raise ValueError(
            f"config file {path}: unsupported suffix {suffix or '(none)'!r}; use "
            f"{', '.join(CONFIG_FILE_SUFFIXES)}"
        )
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"config file {path} is a directory, not a file") from None
    except OSError as err:
        raise ValueError(f"config file {path} cannot be read: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"config file {path} is not UTF-8 text: {err.reason}") from None
    settings = _parse_json(text, path) if suffix == ".json" else _parse_yaml(text, path)
    if not isinstance(settings, dict):
        got = "nothing (an empty file)" if settings is None else f"a {type(settings).__name__}"
        raise ValueError(
            f"config file {path}: the top level must be a mapping of config sections "
            f"(algo_name, env, sampler, agent, algo, runner, logging); got {got}"
        )
    return settings


def _parse_json(text: str, path: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"config file {path}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None


def _parse_yaml(text: str, path: str):
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(
            f"config file {path}: invalid YAML{where}: {err.problem or err.context}"
        ) from None
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path}: invalid YAML: {err}") from None


@functools.cache
def _yaml_loader():
    """PyYAML's safe loader, reading ``3e-4`` as a float (YAML 1.2) rather than a string."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    # YAML 1.1 (PyYAML) wants a dot in a float ("3.0e-4"); learning rates are often written
    # without one, and a string there would only fail later, deep inside the optimizer.
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."),
    )
    return Loader
