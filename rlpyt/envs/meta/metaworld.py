"""Meta-World ML1 as a task distribution (the optional extra ``rlpyt[metaworld]``).

ML1 is one Sawyer-arm manipulation task (``reach-v3``, ``push-v3``, ``pick-place-v3``, ...,
see ``metaworld.ML1.ENV_NAMES``) whose meta-RL tasks are goal (and object) positions hidden
from the observation: ``metaworld.ML1(task_name, seed)`` draws 50 training goals and 50
test goals. :class:`MetaWorldML1Env` makes them rlpyt tasks:

* a task is ``{"split": 0, "index": i}`` (the i-th of the benchmark's ``train_tasks``) or
  ``{"split": 1, "index": i}`` (of its ``test_tasks``): plain numbers, so it pickles to a
  worker and compares with :func:`~rlpyt.envs.meta.base.task_key`;
* ``sample_tasks(n, seed)`` draws ``n`` of the 50 training goals without replacement;
* ``task_split(...)`` (used by :func:`~rlpyt.envs.meta.base.make_task_split`) draws the
  run's training tasks from ``train_tasks`` and its test tasks from ``test_tasks``, so the
  two are Meta-World's own disjoint sets;
* ``set_task`` hands the Meta-World ``Task`` to the env's own ``set_task``; the reward is
  Meta-World's, and ``env_info.success`` is its success flag (1.0 once the goal is reached);
* the horizon is Meta-World's ``max_path_length``, 500 (a truncation).

The extra is its own: metaworld pins an exact MuJoCo (metaworld 3.1 needs ``mujoco==3.3.0``)
that may conflict with the one gymnasium's MuJoCo envs use here. :func:`import_metaworld`
checks the pin against the installed MuJoCo before importing, and building the env raises
:class:`MetaWorldUnavailable` naming the extra (and the conflict, if that is the cause).
"""

import importlib.metadata

import gymnasium as gym
import numpy as np

__all__ = [
    "EXTRA",
    "HORIZON",
    "MetaWorldUnavailable",
    "MetaWorldML1Env",
    "import_metaworld",
    "mujoco_conflict",
]

EXTRA = "pip install 'rlpyt[metaworld]'"
HORIZON = 500
"""Meta-World's ``max_path_length``."""
TRAIN, TEST = 0, 1


class MetaWorldUnavailable(ImportError):
    """metaworld is not installed, or its MuJoCo pin conflicts with the installed MuJoCo."""


def _metaworld_requirements() -> list | None:
    """The installed metaworld's requirement strings; ``None`` if it is not installed."""
    try:
        return importlib.metadata.requires("metaworld") or []
    except importlib.metadata.PackageNotFoundError:
        return None


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def mujoco_conflict(requirements, mujoco_version: str | None) -> str | None:
    """The requirement on ``mujoco`` among ``requirements`` (metaworld's, as pip lists them)
    that ``mujoco_version`` does not meet, e.g. ``"mujoco==3.3.0"``; ``None`` if none."""
    if not requirements or mujoco_version is None:
        return None
    from packaging.requirements import Requirement

    for line in requirements:
        requirement = Requirement(line)
        if requirement.name.lower() != "mujoco":
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # e.g. only for one of metaworld's own extras
        if not requirement.specifier.contains(mujoco_version, prereleases=True):
            return f"{requirement.name}{requirement.specifier}"
    return None


def import_metaworld():
    """The ``metaworld`` module; :class:`MetaWorldUnavailable` naming the extra when it is
    missing, or naming the conflict when its MuJoCo pin is not the installed MuJoCo."""
    mujoco_version = _installed_version("mujoco")
    conflict = mujoco_conflict(_metaworld_requirements(), mujoco_version)
    if conflict is not None:
        raise MetaWorldUnavailable(
            f"Meta-World ML1 (the optional extra rlpyt[metaworld]) conflicts with the installed "
            f"MuJoCo: metaworld {_installed_version('metaworld')} requires {conflict}, but "
            f"mujoco {mujoco_version} is installed (gymnasium's MuJoCo envs use it); install the "
            f"extra in an environment of its own: {EXTRA}"
        )
    try:
        import metaworld
    except ImportError as err:
        raise MetaWorldUnavailable(
            f"Meta-World ML1 needs the optional extra: {EXTRA} (metaworld is not installed: "
            f"{err}); it pins its own MuJoCo version, so install it in an environment of its own"
        ) from err
    return metaworld


class MetaWorldML1Env(gym.Env):
    """Meta-World ML1 task ``task_name`` as a task env (module docstring).

    Args:
        task_name: one of ``metaworld.ML1.ENV_NAMES``, e.g. ``"reach-v3"``.
        benchmark_seed: the seed of ``metaworld.ML1``, which draws the 50 training and 50 test
            goals (the task seeds then choose among them).
    """

    metadata = {"render_modes": []}

    def __init__(self, task_name: str = "reach-v3", benchmark_seed: int = 0):
        metaworld = import_metaworld()
        names = list(metaworld.ML1.ENV_NAMES)
        if task_name not in names:
            from rlpyt.utils.launching.variant import did_you_mean

            hint = did_you_mean(task_name, names, n=1)
            raise ValueError(
                f"Meta-World has no ML1 task {task_name!r}{f' ({hint})' if hint else ''}; "
                f"one of {', '.join(names)}"
            )
        self.task_name = task_name
        self.benchmark = metaworld.ML1(task_name, seed=int(benchmark_seed))
        self._pools = (list(self.benchmark.train_tasks), list(self.benchmark.test_tasks))
        self._env = self.benchmark.train_classes[task_name]()
        self.observation_space = self._env.observation_space
        self.action_space = self._env.action_space
        self.task = None
        self.set_task({"split": TRAIN, "index": 0})  # Meta-World envs refuse to run without one

    # -- tasks --------------------------------------------------------------------------

    def _draw(self, split: int, n: int, seed: int) -> list:
        pool = self._pools[split]
        if n > len(pool):
            which = ("train_tasks", "test_tasks")[split]
            raise ValueError(
                f"ML1 {self.task_name!r} has {len(pool)} {which}, fewer than the {n} asked for"
            )
        indices = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
        return [{"split": split, "index": int(i)} for i in indices]

    def sample_tasks(self, n: int, seed: int) -> list:
        """``n`` of the benchmark's training goals, drawn without replacement with ``seed``."""
        return self._draw(TRAIN, n, seed)

    def task_split(self, n_train: int, n_test: int, train_seed: int, test_seed: int):
        """``(train, test)``: ``n_train`` of the benchmark's ``train_tasks`` drawn with
        ``train_seed``, ``n_test`` of its ``test_tasks`` drawn with ``test_seed``."""
        return self._draw(TRAIN, n_train, train_seed), self._draw(TEST, n_test, test_seed)

    def set_task(self, task) -> None:
        """Make ``task`` (``{"split": 0 | 1, "index": i}``) the env's task."""
        try:
            split, index = int(task["split"]), int(task["index"])
            meta_world_task = self._pools[split][index]
        except (TypeError, KeyError, IndexError, ValueError):
            sizes = tuple(len(p) for p in self._pools)
            raise ValueError(
                f"an ML1 task is {{'split': 0 (train) or 1 (test), 'index': i}} with i below "
                f"{sizes}, got {task!r}"
            ) from None
        self._env.set_task(meta_world_task)
        self.task = {"split": split, "index": index}

    # -- gymnasium ----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.seed(seed)  # Meta-World ignores reset(seed=...)
        return self._env.reset()

    def step(self, action):
        obs, reward, terminated, truncated, info = self._env.step(action)
        info = dict(info, success=float(info["success"]))
        return obs, float(reward), bool(terminated), bool(truncated), info

    def close(self):
        self._env.close()
