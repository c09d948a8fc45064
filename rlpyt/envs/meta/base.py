"""Task distributions for meta-RL: an env whose task can be sampled and set.

A *task env* is a gymnasium env with two more methods:

* ``sample_tasks(n, seed) -> list`` draws ``n`` tasks from the env's task
  distribution with ``numpy.random.default_rng(seed)`` (the same seed gives the
  same tasks);
* ``set_task(task)`` makes ``task`` the env's task from now on (the reward and,
  for the randomised-dynamics envs, the physics); it takes effect at once, the
  next ``reset()`` starts an episode of it.

:class:`MetaEnv` wraps one as an rlpyt env (:class:`~rlpyt.envs.gym.GymEnvWrapper`
around a ``TimeLimit``), so an episode cut at the horizon ends with ``done`` and
``env_info.timeout`` set -- a truncation the algorithms bootstrap through, never
a termination (the original PEARL code treated it as terminal).

Train and test tasks come from :func:`make_task_split`: two draws with two different
seeds (a shared seed is refused, as the same seed would give the same tasks), checked
to share no task (the original drew test tasks from the training pool). A benchmark with
its own train and test sets (Meta-World's ML1) has a third method,
``task_split(n_train, n_test, train_seed, test_seed) -> (train, test)``, used instead of
the two draws.
"""

import numpy as np
from gymnasium.wrappers import TimeLimit

from rlpyt.envs.gym import GymEnvWrapper
from rlpyt.utils.validation import require_int_at_least

__all__ = [
    "MetaEnv",
    "TASK_METHODS",
    "require_task_env",
    "TaskSplit",
    "make_task_split",
    "task_key",
    "tasks_equal",
]

TASK_METHODS = ("sample_tasks", "set_task")
"""The methods a task env needs (on the gymnasium env, or on the rlpyt env wrapping it)."""


def require_task_env(env, who: str = "PEARL") -> None:
    """Raise a ``TypeError`` naming the methods of :data:`TASK_METHODS` that ``env`` lacks."""
    missing = [name for name in TASK_METHODS if not callable(getattr(env, name, None))]
    if missing:
        name = getattr(env, "name", type(env).__name__)
        raise TypeError(
            f"{who} needs an env with a task distribution, but {name} has no "
            f"{' and no '.join(f'{m}()' for m in missing)}: meta-RL needs "
            "sample_tasks(n, seed) -> list of tasks and set_task(task) "
            "(see rlpyt.envs.meta.base); use an env of rlpyt.envs.meta (meta_make) or "
            "add the methods to yours"
        )


def task_key(task) -> bytes:
    """A byte string equal for equal tasks (arrays, numbers, dicts of them)."""
    if isinstance(task, dict):
        return b"{" + b",".join(k.encode() + b":" + task_key(task[k]) for k in sorted(task)) + b"}"
    array = np.asarray(task, dtype=np.float64)
    return repr(array.shape).encode() + array.tobytes()


def tasks_equal(a, b) -> bool:
    return task_key(a) == task_key(b)


class MetaEnv(GymEnvWrapper):
    """An rlpyt env around a task env, cut at ``horizon`` steps (a truncation).

    Args:
        env: a gymnasium task env (module docstring), not yet time-limited.
        horizon: steps per episode; the cut sets ``env_info.timeout``.
        info_example: see :class:`~rlpyt.envs.gym.GymEnvWrapper`.
    """

    def __init__(self, env, horizon: int, info_example: dict | None = None):
        require_task_env(env, who="MetaEnv")
        self.task_env = env
        self._horizon = require_int_at_least("horizon", horizon, 1)
        super().__init__(TimeLimit(env, max_episode_steps=self._horizon), info_example=info_example)
        self.task = None

    def sample_tasks(self, n: int, seed: int) -> list:
        """``n`` tasks drawn with ``seed`` (see the module docstring)."""
        return self.task_env.sample_tasks(require_int_at_least("n", n, 1), int(seed))

    def set_task(self, task) -> None:
        """Make ``task`` the current task (the next ``reset()`` starts an episode of it)."""
        self.task_env.set_task(task)
        self.task = task

    @property
    def horizon(self) -> int:
        return self._horizon


class TaskSplit:
    """The training and test tasks of a run: ``train`` and ``test`` lists, disjoint."""

    def __init__(self, train: list, test: list):
        self.train = list(train)
        self.test = list(test)

    def __repr__(self):
        return f"TaskSplit({len(self.train)} train, {len(self.test)} test)"


def make_task_split(
    env,
    n_train: int,
    n_test: int,
    train_seed: int,
    test_seed: int,
    allow_shared_tasks: bool = False,
) -> TaskSplit:
    """Draw ``n_train`` training tasks with ``train_seed`` and ``n_test`` test tasks with
    ``test_seed`` (with the task env's ``task_split`` where it has one); refuse a shared
    seed, and any task in both sets.

    ``allow_shared_tasks=True`` is for distributions with only a few tasks (cheetah-dir's
    forward and backward), where the paper meta-tests on its training tasks: then test
    tasks may repeat training tasks (and the seeds may be equal).
    """
    require_task_env(env)
    n_train = require_int_at_least("n_train", n_train, 1)
    n_test = require_int_at_least("n_test", n_test, 1)
    if int(train_seed) == int(test_seed) and not allow_shared_tasks:
        raise ValueError(
            f"train_seed and test_seed are both {train_seed}: the same seed draws the same "
            "tasks, so the test tasks would overlap the training tasks; use two different seeds"
        )
    own_split = getattr(getattr(env, "task_env", env), "task_split", None)
    if callable(own_split):  # a benchmark with its own train and test tasks (Meta-World)
        train, test = own_split(n_train, n_test, int(train_seed), int(test_seed))
    else:
        train = env.sample_tasks(n_train, int(train_seed))
        test = env.sample_tasks(n_test, int(test_seed))
    if len(train) != n_train or len(test) != n_test:
        raise ValueError(
            f"sample_tasks returned {len(train)} and {len(test)} tasks for n={n_train} and "
            f"n={n_test}"
        )
    if not allow_shared_tasks:
        train_keys = {task_key(t) for t in train}
        shared = [i for i, t in enumerate(test) if task_key(t) in train_keys]
        if shared:
            raise ValueError(
                f"test tasks {shared} are also training tasks (train_seed {train_seed}, "
                f"test_seed {test_seed}): this distribution has too few distinct tasks for "
                f"{n_train} + {n_test}; draw fewer tasks, or pass allow_shared_tasks=True to "
                "meta-test on training tasks"
            )
    return TaskSplit(train, test)
