"""One task's PEARL collection or meta-test, with randomness of its own.

A :class:`MetaCollector` holds one task env and an agent; the serial meta sampler has
one in the main process, the parallel one has one per worker process (with the agent's
CPU copy). The sampler cuts each iteration into :data:`CollectWork` items, one per task
(its seed comes from the run seed, the iteration and the item's place in the iteration's
plan), and each meta-test into one item per task (seeded likewise). Before an item the
collector re-seeds the agent's exploration generator (z draws and exploration noise) and
a numpy generator (env reset seeds, context draws) with the item's seed, so an item's
data depend only on its seed, the task and the agent's weights: not on which process
collected it, nor on what it collected before.

Collection works in whole trajectories of one task (each starts with a reset, so a
trajectory's z stays fixed); the env is re-seeded from the item's generator at every
reset. A :data:`CollectWork` item, see :mod:`rlpyt.samplers.meta.base` for the schedule:

* ``initial``: ``num_initial_steps`` with z from the prior, into both of the task's replays;
* otherwise: ``num_steps_prior`` steps with z from the prior (a new draw per trajectory),
  then ``num_steps_posterior`` steps with z drawn from the posterior given the encoder
  data collected so far in this item (redrawn before every trajectory, the new data
  included), both into the encoder (cleared first) and RL replays; then
  ``num_extra_rl_steps_posterior`` steps the same way into the RL replay only. The
  posterior's context is ``embedding_batch_size`` transitions drawn from the encoder data.
"""

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
import torch

from rlpyt.algos.qpg.pearl import TaskSamples
from rlpyt.replays.task import Transition
from rlpyt.samplers.collections import TrajInfo

__all__ = ["CollectWork", "MetaCollector", "MetaSchedule", "MetaTrajInfo", "concat"]

CollectWork = namedtuple("CollectWork", ["task_index", "task", "initial", "seed"])
"""One task's collection in one iteration: the training task's index and value, whether it
is the initial collection, and the seed of all its randomness."""


@dataclass(frozen=True)
class MetaSchedule:
    """The step counts of a collection and of a meta-test (see the sampler's arguments)."""

    num_initial_steps: int
    num_steps_prior: int
    num_steps_posterior: int
    num_extra_rl_steps_posterior: int
    embedding_batch_size: int
    n_eval_trajectories: int  # per task in a meta-test
    num_exp_traj_eval: int


class MetaTrajInfo(TrajInfo):
    """TrajInfo plus ``SparseReturn`` (the sum of ``env_info.sparse_reward``; the return for
    envs without one)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.SparseReturn = 0.0

    def step(self, observation, action, reward, done, agent_info, env_info) -> None:
        super().step(observation, action, reward, done, agent_info, env_info)
        self["SparseReturn"] += float(getattr(env_info, "sparse_reward", reward))


class MetaCollector:
    """Runs :data:`CollectWork` items and meta-test tasks on ``env`` with ``agent``.

    Args:
        env: a task env (``set_task``) with a horizon.
        agent: an initialized :class:`~rlpyt.agents.qpg.pearl_agent.PearlAgent`, in the
            mode the caller wants (sample mode to collect, eval mode to meta-test).
        traj_info_factory: makes the per-trajectory statistics.
        schedule: the step counts.
    """

    def __init__(self, env, agent, traj_info_factory, schedule: MetaSchedule):
        self.env = env
        self.agent = agent
        self.traj_info_factory = traj_info_factory
        self.schedule = schedule

    def trajectory(self, rng):
        """One episode of the current task with the agent's current z (the env seeded from
        ``rng`` first): ``(Transition [T] numpy, traj_info)``."""
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

    def context(self, transitions, rng=None, size=None) -> torch.Tensor:
        """The agent's context ``[N, C]`` of ``transitions`` (``size`` of them drawn with
        ``rng``, or all)."""
        if size is not None:
            transitions = transitions[rng.integers(0, len(transitions.reward), size=size)]
        return self.agent.transition_context(Transition(*(torch.as_tensor(x) for x in transitions)))

    def _seed(self, seed: int):
        """Re-seed the agent's exploration generator; a numpy generator of the same seed."""
        self.agent.exploration_generator.manual_seed(int(seed))
        return np.random.default_rng(int(seed))

    def _collect(self, rng, n_steps: int, encoder_data: list | None):
        """Whole trajectories until ``n_steps``; z from the prior (``encoder_data`` None or
        empty), or from the posterior given ``encoder_data`` (a list of Transition chunks)."""
        chunks, infos, steps = [], [], 0
        while steps < n_steps:
            if encoder_data:
                context = self.context(
                    concat(encoder_data), rng, self.schedule.embedding_batch_size
                )
                self.agent.sample_posterior_z(context)
            else:
                self.agent.sample_prior_z()
            transitions, info = self.trajectory(rng)
            chunks.append(transitions)
            infos.append(info)
            steps += len(transitions.reward)
        return chunks, infos

    def collect(self, work: CollectWork):
        """``(list of TaskSamples, traj_infos, env steps)`` of one item (module docstring)."""
        s = self.schedule
        rng = self._seed(work.seed)
        self.env.set_task(work.task)
        if work.initial:
            chunks, infos = self._collect(rng, s.num_initial_steps, None)
            samples = [TaskSamples(work.task_index, concat(chunks), True, False)]
            return samples, infos, len(samples[0].transitions.reward)
        encoder_data, infos = self._collect(rng, s.num_steps_prior, None)
        collected = 0
        while collected < s.num_steps_posterior:  # one trajectory at a time
            chunks, new = self._collect(rng, 1, encoder_data)
            encoder_data.extend(chunks)
            infos.extend(new)
            collected += len(chunks[0].reward)
        samples = [TaskSamples(work.task_index, concat(encoder_data), True, True)]
        if s.num_extra_rl_steps_posterior:
            chunks, new = self._collect(rng, s.num_extra_rl_steps_posterior, encoder_data)
            samples.append(TaskSamples(work.task_index, concat(chunks), False, False))
            infos.extend(new)
        return samples, infos, sum(len(x.transitions.reward) for x in samples)

    @torch.no_grad()
    def meta_test(self, task, seed: int):
        """``(returns, sparse_returns)``, each ``[n_eval_trajectories]``, of one task: z from
        the prior, then from the ``num_exp_traj_eval``-th trajectory on, z redrawn from the
        posterior given all the task's transitions so far before the next trajectory."""
        s = self.schedule
        rng = self._seed(seed)
        self.env.set_task(task)
        self.agent.sample_prior_z()
        returns = np.zeros(s.n_eval_trajectories)
        sparse_returns = np.zeros(s.n_eval_trajectories)
        context = []
        for k in range(s.n_eval_trajectories):
            transitions, info = self.trajectory(rng)
            returns[k], sparse_returns[k] = info.Return, info.SparseReturn
            context.append(transitions)
            if k + 1 >= s.num_exp_traj_eval:
                self.agent.sample_posterior_z(self.context(concat(context)))
        return returns, sparse_returns

    def close(self) -> None:
        self.env.close()


def concat(chunks):
    """One :data:`Transition` of numpy arrays from a list of them."""
    return Transition(*(np.concatenate(field) for field in zip(*chunks)))
