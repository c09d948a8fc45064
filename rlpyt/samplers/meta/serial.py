"""PEARL's data collection and meta-test protocol, in the main process.

Collection works in whole trajectories of one task (each starts with a reset, so a
trajectory's z stays fixed, and the env is re-seeded from the sampler's generator at
every reset: a run resumes exactly). Per training iteration (:meth:`obtain_samples`):

* iteration 0 only: ``num_initial_steps`` on every training task with z from the prior,
  into both of the task's replays;
* for ``num_tasks_sample`` training tasks (drawn without replacement while there are
  enough): clear the task's encoder replay, collect ``num_steps_prior`` steps with z
  from the prior (a new draw per trajectory), then ``num_steps_posterior`` steps with z
  drawn from the posterior given this iteration's encoder data of the task (redrawn
  before every trajectory, the new data included), both into the encoder and RL
  replays; then ``num_extra_rl_steps_posterior`` steps the same way into the RL replay
  only. The posterior's context is ``embedding_batch_size`` transitions drawn from the
  encoder data. (The paper's code kept the first posterior trajectory on the prior.)

Each phase collects whole trajectories until it has at least its number of steps.

Meta-test (:meth:`meta_test`), for each task: z from the prior; roll out
``num_steps_per_eval // horizon`` trajectories with the deterministic policy, keeping
every transition as context; from the ``num_exp_traj_eval``-th trajectory on, redraw z
from the posterior given all the context so far before the next one. The returns of
the successive trajectories are the adaptation curve; the last one's is the final
return. Evaluation draws come from generators seeded by the run seed and the iteration,
so evaluating never changes the training run.
"""

import numpy as np
import torch

from rlpyt.algos.qpg.pearl import MetaExamples, TaskSamples
from rlpyt.envs.meta.base import make_task_split, require_task_env
from rlpyt.replays.task import Transition
from rlpyt.samplers.collections import BatchSpec, TrajInfo, TrajInfoFactory
from rlpyt.utils.seed import derive_seed
from rlpyt.utils.validation import require_int_at_least

__all__ = ["MetaSerialSampler", "MetaTrajInfo"]


class MetaTrajInfo(TrajInfo):
    """TrajInfo plus ``SparseReturn`` (the sum of ``env_info.sparse_reward``; the return for
    envs without one)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.SparseReturn = 0.0

    def step(self, observation, action, reward, done, agent_info, env_info) -> None:
        super().step(observation, action, reward, done, agent_info, env_info)
        self["SparseReturn"] += float(getattr(env_info, "sparse_reward", reward))


class MetaSerialSampler:
    """Collects PEARL's training data and runs its meta-tests (module docstring).

    Args:
        EnvCls, env_kwargs: a factory of task envs (e.g. :func:`~rlpyt.envs.meta.meta_make`
            with ``env_kwargs=dict(name="point-robot")``); an env without
            ``sample_tasks``/``set_task`` is refused at :meth:`initialize`.
        n_train_tasks, n_test_tasks: numbers of training and test tasks.
        train_task_seed, test_task_seed: their seeds (must differ unless
            ``allow_shared_tasks``, see :func:`~rlpyt.envs.meta.make_task_split`).
        num_initial_steps, num_tasks_sample, num_steps_prior, num_steps_posterior,
            num_extra_rl_steps_posterior: the collection schedule (module docstring).
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
        self.env = None
        self.tasks = None
        self.batch_spec = None
        self.env_steps = 0  # env steps collected for training so far

    # -- set-up ---------------------------------------------------------------------

    def initialize(self, agent, affinity=None, seed=None, bootstrap_value=False,
                   final_observation=True, traj_info_kwargs=None, rank=0, world_size=1):  # fmt: skip
        """Build the env and the task split (refusing an env without tasks), initialize the
        agent; returns :data:`~rlpyt.algos.qpg.pearl.MetaExamples`."""
        if world_size != 1:
            raise ValueError("MetaSerialSampler runs in one process (world_size 1)")
        self.env = self.EnvCls(**self.env_kwargs)
        require_task_env(self.env)
        self.horizon = self.env.horizon
        if self.horizon is None:
            raise ValueError(
                f"{getattr(self.env, 'name', type(self.env).__name__)} has no horizon: PEARL's "
                "collection and meta-test run whole trajectories; give the env a time limit"
            )
        self.tasks = make_task_split(
            self.env, self.n_train_tasks, self.n_test_tasks, self.train_task_seed,
            self.test_task_seed, allow_shared_tasks=self.allow_shared_tasks,
        )  # fmt: skip
        self.agent = agent
        agent.initialize(self.env.spaces, share_memory=False, global_B=1, env_ranks=[0])
        self.seed = int(seed if seed is not None else 0)
        self.rng = np.random.default_rng(derive_seed(self.seed, "meta_sampler"))
        self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
        per_task = (
            self.num_steps_prior + self.num_steps_posterior + self.num_extra_rl_steps_posterior
        )
        self.batch_spec = BatchSpec(T=self.num_tasks_sample * per_task, B=1)
        self.env_steps = 0
        example = self._trajectory()[0][0]  # one step
        self.rng = np.random.default_rng(derive_seed(self.seed, "meta_sampler"))
        return MetaExamples(example, self.n_train_tasks)

    # -- trajectories ----------------------------------------------------------------------

    def _trajectory(self, rng=None):
        """One episode of the current task with the agent's current z:
        ``(Transition [T] numpy, traj_info)``."""
        rng = self.rng if rng is None else rng
        env, agent = self.env, self.agent
        env.seed(int(rng.integers(2**31)))
        observation = env.reset()
        prev_action = np.zeros(env.action_space.shape, np.float32)
        prev_reward = np.zeros((), np.float32)
        traj_info = self.traj_info_factory()
        steps = []
        while True:
            agent_step = agent.step(
                torch.as_tensor(observation), torch.as_tensor(prev_action),
                torch.as_tensor(prev_reward),
            )  # fmt: skip
            action = agent_step.action.numpy()
            env_step = env.step(action)
            timeout = bool(getattr(env_step.env_info, "timeout", False))
            sparse = float(getattr(env_step.env_info, "sparse_reward", env_step.reward))
            steps.append((observation, action, float(env_step.reward), sparse,
                          env_step.observation, env_step.done and not timeout))  # fmt: skip
            traj_info.step(observation, action, env_step.reward, env_step.done,
                           agent_step.agent_info, env_step.env_info)  # fmt: skip
            if env_step.done:
                break
            observation, prev_action, prev_reward = env_step.observation, action, env_step.reward
        transitions = Transition(
            *(np.asarray(np.stack([s[i] for s in steps]), dtype=dtype)
              for i, dtype in enumerate([np.float32, np.float32, np.float32, np.float32,
                                         np.float32, bool]))
        )  # fmt: skip
        return transitions, traj_info.terminate(observation)

    def _context(self, transitions, size=None) -> torch.Tensor:
        """The agent's context ``[N, C]`` of ``transitions`` (``size`` of them drawn with the
        sampler's generator, or all)."""
        if size is not None:
            transitions = transitions[self.rng.integers(0, len(transitions.reward), size=size)]
        return self.agent.transition_context(Transition(*(torch.as_tensor(x) for x in transitions)))

    def _collect(self, n_steps: int, posterior: bool, encoder_data: list):
        """Whole trajectories until ``n_steps``; z from the prior, or from the posterior given
        ``encoder_data`` (a list of Transition chunks, which the caller may extend)."""
        chunks, infos, steps = [], [], 0
        while steps < n_steps:
            if posterior and encoder_data:
                context = self._context(concat(encoder_data), self.embedding_batch_size)
                self.agent.sample_posterior_z(context)
            else:
                self.agent.sample_prior_z()
            transitions, info = self._trajectory()
            chunks.append(transitions)
            infos.append(info)
            steps += len(transitions.reward)
        self.env_steps += steps
        return chunks, infos

    # -- training data -----------------------------------------------------------------

    def obtain_samples(self, itr: int):
        """``(list of TaskSamples, traj_infos)`` of iteration ``itr`` (module docstring)."""
        samples, traj_infos = [], []
        if itr == 0 and self.num_initial_steps > 0:
            for task in range(self.n_train_tasks):
                self.env.set_task(self.tasks.train[task])
                chunks, infos = self._collect(self.num_initial_steps, False, [])
                samples.append(TaskSamples(task, concat(chunks), True, False))
                traj_infos.extend(infos)
        replace = self.num_tasks_sample > self.n_train_tasks
        for task in self.rng.choice(self.n_train_tasks, self.num_tasks_sample, replace=replace):
            task = int(task)
            self.env.set_task(self.tasks.train[task])
            encoder_data, infos = self._collect(self.num_steps_prior, False, [])
            collected = 0
            while collected < self.num_steps_posterior:  # one trajectory at a time
                chunks, new = self._collect(1, True, encoder_data)
                encoder_data.extend(chunks)
                infos.extend(new)
                collected += len(chunks[0].reward)
            samples.append(TaskSamples(task, concat(encoder_data), True, True))
            if self.num_extra_rl_steps_posterior:
                chunks, new = self._collect(self.num_extra_rl_steps_posterior, True, encoder_data)
                samples.append(TaskSamples(task, concat(chunks), False, False))
                infos.extend(new)
            traj_infos.extend(infos)
        return samples, traj_infos

    # -- meta-test ---------------------------------------------------------------------------

    @torch.no_grad()
    def meta_test(self, itr: int, train: bool = False):
        """``(returns, sparse_returns)``, each ``[tasks, trajectories]``, of the meta-test on the
        test tasks (or the first ``n_eval_train_tasks`` training tasks)."""
        tasks = self.tasks.train[: self.n_eval_train_tasks] if train else self.tasks.test
        n_traj = max(self.num_steps_per_eval // self.horizon, 1)
        agent = self.agent
        generator_state = agent.exploration_generator.get_state()
        eval_seed = derive_seed(self.seed, "meta_test", "train" if train else "test", itr)
        agent.exploration_generator.manual_seed(eval_seed)
        rng = np.random.default_rng(eval_seed)
        returns = np.zeros((len(tasks), n_traj))
        sparse_returns = np.zeros((len(tasks), n_traj))
        try:
            for i, task in enumerate(tasks):
                self.env.set_task(task)
                agent.sample_prior_z()
                context = []
                for k in range(n_traj):
                    transitions, info = self._trajectory(rng)
                    returns[i, k], sparse_returns[i, k] = info.Return, info.SparseReturn
                    context.append(transitions)
                    if k + 1 >= self.num_exp_traj_eval:
                        agent.sample_posterior_z(self._all_context(context))
        finally:
            agent.exploration_generator.set_state(generator_state)
        return returns, sparse_returns

    def _all_context(self, chunks) -> torch.Tensor:
        transitions = concat(chunks)
        return self.agent.transition_context(Transition(*(torch.as_tensor(x) for x in transitions)))

    # -- snapshots and shutdown -----------------------------------------------------------

    def state_dict(self) -> dict:
        return dict(rng=self.rng.bit_generator.state, env_steps=self.env_steps)

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.env_steps = state["env_steps"]

    def shutdown(self) -> None:
        if self.env is not None:
            self.env.close()


def concat(chunks):
    """One :data:`Transition` of numpy arrays from a list of them."""
    return Transition(*(np.concatenate(field) for field in zip(*chunks)))
