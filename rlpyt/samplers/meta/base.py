"""What the meta samplers share: settings, the task split, the plan of each iteration and
of each meta-test, and how their randomness is seeded.

Per training iteration ``itr`` (:meth:`BaseMetaSampler.obtain_samples`) the plan is:

* iteration 0 only: an initial item per training task (``num_initial_steps`` with z from
  the prior, into both of the task's replays);
* ``num_tasks_sample`` training tasks (drawn without replacement while there are enough),
  an item each: clear the task's encoder replay, ``num_steps_prior`` steps with z from the
  prior, ``num_steps_posterior`` steps with z from the posterior given this item's encoder
  data, ``num_extra_rl_steps_posterior`` steps into the RL replay only
  (:mod:`rlpyt.samplers.meta.collector`). (The paper's code kept the first posterior
  trajectory on the prior.)

Each phase collects whole trajectories until it has at least its number of steps.

Meta-test (:meth:`BaseMetaSampler.meta_test`), for each task: z from the prior; roll out
``num_steps_per_eval // horizon`` trajectories (with the deterministic policy: the runner
puts the agent in eval mode), keeping every transition as context; from the
``num_exp_traj_eval``-th trajectory on, redraw z from the posterior given all the context
so far before the next one. The returns of the successive trajectories are the
adaptation curve; the last one's is the final return.

Randomness. Everything is a function of the run seed and the iteration: the tasks of
iteration ``itr`` are drawn with ``derive_seed(seed, "meta_tasks", itr)``, the item at
place ``j`` of its plan is collected with ``derive_seed(seed, "meta_collect", itr, j)``,
and the meta-test of the ``i``-th task with ``derive_seed(seed, "meta_test", "test" or
"train", itr, i)``. So the data of a task never depend on which process collected it or in
which order (serial and parallel samplers give identical data), evaluating never changes
the training run, and the only state to snapshot is the step counter.
"""

import numpy as np

from rlpyt.algos.qpg.pearl import MetaExamples
from rlpyt.envs.meta.base import make_task_split, require_task_env
from rlpyt.samplers.collections import BatchSpec, TrajInfoFactory
from rlpyt.samplers.meta.collector import CollectWork, MetaCollector, MetaSchedule, MetaTrajInfo
from rlpyt.utils.seed import derive_seed
from rlpyt.utils.validation import require_int_at_least

__all__ = ["BaseMetaSampler"]


class BaseMetaSampler:
    """Collects PEARL's training data and runs its meta-tests (module docstring); subclasses
    run the items: :meth:`run_collection` and :meth:`run_meta_test`.

    Args:
        EnvCls, env_kwargs: a factory of task envs (e.g. :func:`~rlpyt.envs.meta.meta_make`
            with ``env_kwargs=dict(name="point-robot")``); an env without
            ``sample_tasks``/``set_task`` is refused at :meth:`initialize`.
        n_train_tasks, n_test_tasks: numbers of training and test tasks.
        train_task_seed, test_task_seed: their seeds (must differ unless
            ``allow_shared_tasks``, see :func:`~rlpyt.envs.meta.make_task_split`).
        num_initial_steps, num_tasks_sample, num_steps_prior: the collection schedule
            (module docstring).
        num_steps_posterior, num_extra_rl_steps_posterior: the rest of that schedule.
        embedding_batch_size: context transitions for the posterior while collecting.
        num_steps_per_eval: steps per task in a meta-test (whole trajectories).
        num_exp_traj_eval: trajectories on the prior before the posterior updates start.
        n_eval_train_tasks: training tasks meta-tested too (default: as many as test tasks).
        TrajInfoCls: per-trajectory statistics.
    """

    mid_batch_reset = False
    eval_n_envs = 0

    def __init__(
        self,
        *,
        EnvCls,
        env_kwargs: dict | None = None,
        n_train_tasks: int,
        n_test_tasks: int,
        train_task_seed: int = 1337,
        test_task_seed: int = 7331,
        allow_shared_tasks: bool = False,
        num_initial_steps: int = 2000,
        num_tasks_sample: int = 5,
        num_steps_prior: int = 400,
        num_steps_posterior: int = 0,
        num_extra_rl_steps_posterior: int = 600,
        embedding_batch_size: int = 100,
        num_steps_per_eval: int = 600,
        num_exp_traj_eval: int = 2,
        n_eval_train_tasks: int | None = None,
        TrajInfoCls=MetaTrajInfo,
    ):
        self.EnvCls = EnvCls
        self.env_kwargs = dict(env_kwargs or {})
        self.n_train_tasks = require_int_at_least("n_train_tasks", n_train_tasks, 1)
        self.n_test_tasks = require_int_at_least("n_test_tasks", n_test_tasks, 1)
        self.train_task_seed = int(train_task_seed)
        self.test_task_seed = int(test_task_seed)
        self.allow_shared_tasks = bool(allow_shared_tasks)
        self.num_initial_steps = require_int_at_least("num_initial_steps", num_initial_steps, 0)
        self.num_tasks_sample = require_int_at_least("num_tasks_sample", num_tasks_sample, 1)
        self.num_steps_prior = require_int_at_least("num_steps_prior", num_steps_prior, 0)
        self.num_steps_posterior = require_int_at_least(
            "num_steps_posterior", num_steps_posterior, 0
        )
        self.num_extra_rl_steps_posterior = require_int_at_least(
            "num_extra_rl_steps_posterior", num_extra_rl_steps_posterior, 0
        )
        if self.num_steps_prior + self.num_steps_posterior == 0:
            raise ValueError(
                "num_steps_prior + num_steps_posterior is 0: the encoder replays would stay "
                "empty and the encoder could not be trained; collect some prior or posterior steps"
            )
        self.embedding_batch_size = require_int_at_least(
            "embedding_batch_size", embedding_batch_size, 1
        )
        self.num_steps_per_eval = require_int_at_least("num_steps_per_eval", num_steps_per_eval, 1)
        self.num_exp_traj_eval = require_int_at_least("num_exp_traj_eval", num_exp_traj_eval, 1)
        n_eval_train = (
            min(n_test_tasks, n_train_tasks) if n_eval_train_tasks is None else n_eval_train_tasks
        )
        self.n_eval_train_tasks = require_int_at_least("n_eval_train_tasks", n_eval_train, 0)
        if self.n_eval_train_tasks > self.n_train_tasks:
            raise ValueError(
                f"n_eval_train_tasks {self.n_eval_train_tasks} exceeds n_train_tasks "
                f"{self.n_train_tasks}"
            )
        self.TrajInfoCls = TrajInfoCls
        self.tasks = None
        self.batch_spec = None
        self.env_steps = 0  # env steps collected for training so far

    # -- set-up ---------------------------------------------------------------------

    def max_items(self) -> int:
        """The most items one command can hold (initial collection, one iteration's
        tasks, one meta-test): more workers than this would idle."""
        initial = self.n_train_tasks if self.num_initial_steps else 0
        return max(initial, self.num_tasks_sample, self.n_test_tasks, self.n_eval_train_tasks)

    def setup(self, agent, seed, traj_info_kwargs) -> tuple:
        """Build a task env and the task split (refusing an env without tasks), initialize
        the agent, collect one example trajectory; ``(MetaCollector, MetaExamples)``."""
        env = self.EnvCls(**self.env_kwargs)
        try:
            require_task_env(env)
            self.horizon = env.horizon
            if self.horizon is None:
                raise ValueError(
                    f"{getattr(env, 'name', type(env).__name__)} has no horizon: PEARL's "
                    "collection and meta-test run whole trajectories; give the env a time limit"
                )
            self.tasks = make_task_split(
                env, self.n_train_tasks, self.n_test_tasks, self.train_task_seed,
                self.test_task_seed, allow_shared_tasks=self.allow_shared_tasks,
            )  # fmt: skip
            self.agent = agent
            agent.initialize(env.spaces, share_memory=False, global_B=1, env_ranks=[0])
        except BaseException:
            env.close()
            raise
        self.seed = int(seed if seed is not None else 0)
        self.schedule = MetaSchedule(
            num_initial_steps=self.num_initial_steps,
            num_steps_prior=self.num_steps_prior,
            num_steps_posterior=self.num_steps_posterior,
            num_extra_rl_steps_posterior=self.num_extra_rl_steps_posterior,
            embedding_batch_size=self.embedding_batch_size,
            n_eval_trajectories=max(self.num_steps_per_eval // self.horizon, 1),
            num_exp_traj_eval=self.num_exp_traj_eval,
        )
        self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
        per_task = (
            self.num_steps_prior + self.num_steps_posterior + self.num_extra_rl_steps_posterior
        )
        self.batch_spec = BatchSpec(T=self.num_tasks_sample * per_task, B=1)
        self.env_steps = 0
        collector = MetaCollector(env, agent, self.traj_info_factory, self.schedule)
        rng = np.random.default_rng(derive_seed(self.seed, "meta_example"))
        example = collector.trajectory(rng)[0][0]  # one step
        return collector, MetaExamples(example, self.n_train_tasks)

    # -- training data -----------------------------------------------------------------

    def plan(self, itr: int) -> list:
        """The :data:`~rlpyt.samplers.meta.collector.CollectWork` items of iteration ``itr``."""
        tasks = []
        if itr == 0 and self.num_initial_steps > 0:
            tasks = [(task, True) for task in range(self.n_train_tasks)]
        rng = np.random.default_rng(derive_seed(self.seed, "meta_tasks", itr))
        replace = self.num_tasks_sample > self.n_train_tasks
        chosen = rng.choice(self.n_train_tasks, self.num_tasks_sample, replace=replace)
        tasks += [(int(task), False) for task in chosen]
        return [
            CollectWork(task, self.tasks.train[task], initial,
                        derive_seed(self.seed, "meta_collect", itr, j))
            for j, (task, initial) in enumerate(tasks)
        ]  # fmt: skip

    def obtain_samples(self, itr: int):
        """``(list of TaskSamples, traj_infos)`` of iteration ``itr`` (module docstring), in
        the plan's order, with the agent in sample mode (the runner sets it)."""
        samples, traj_infos = [], []
        for item_samples, infos, steps in self.run_collection(itr, self.plan(itr)):
            samples.extend(item_samples)
            traj_infos.extend(infos)
            self.env_steps += steps
        return samples, traj_infos

    def run_collection(self, itr: int, work: list) -> list:
        """``MetaCollector.collect(item)`` of each item of ``work``, in order."""
        raise NotImplementedError

    # -- meta-test ---------------------------------------------------------------------------

    def meta_test(self, itr: int, train: bool = False):
        """``(returns, sparse_returns)``, each ``[tasks, trajectories]``, of the meta-test on the
        test tasks (or the first ``n_eval_train_tasks`` training tasks); the agent in eval
        mode (the runner sets it)."""
        tasks = self.tasks.train[: self.n_eval_train_tasks] if train else self.tasks.test
        name = "train" if train else "test"
        items = [(task, derive_seed(self.seed, "meta_test", name, itr, i))
                 for i, task in enumerate(tasks)]  # fmt: skip
        results = self.run_meta_test(itr, items)
        shape = (len(tasks), self.schedule.n_eval_trajectories)
        returns = np.array([r for r, _ in results], dtype=np.float64).reshape(shape)
        sparse_returns = np.array([s for _, s in results], dtype=np.float64).reshape(shape)
        return returns, sparse_returns

    def run_meta_test(self, itr: int, items: list) -> list:
        """``MetaCollector.meta_test(task, seed)`` of each ``(task, seed)``, in order."""
        raise NotImplementedError

    # -- snapshots ------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The step counter: every draw is seeded from the run seed and the iteration."""
        return dict(env_steps=self.env_steps)

    def load_state_dict(self, state: dict) -> None:
        self.env_steps = state["env_steps"]
