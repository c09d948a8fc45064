"""Collectors step a group of envs with an agent and write into the samples buffer.

The sampler owns the buffer; a collector fills ``samples_np[:, its envs]`` one
batch at a time. Writes go straight into preallocated ``[T, B]`` arrays: no
allocation per step beyond what the env itself returns.
"""

import copy

import numpy as np

from rlpyt.agents.base import AgentInputs
from rlpyt.samplers.collections import TrajInfo, TrajInfoFactory
from rlpyt.samplers.env_batch import GuardedEnvBatch
from rlpyt.samplers.parallel.cpu.batch_collectors import start_batch
from rlpyt.utils.buffer import buffer_from_example, buffer_method, numpify_buffer
from rlpyt.utils.seed import derive_seed

__all__ = ["BaseCollector", "DecorrelatingStartCollector", "BaseEvalCollector", "write_env_infos"]


def write_env_infos(dest, t, env_infos) -> None:
    """``dest[t, b] = env_infos[b]`` for every env ``b``, one write per field.

    ``dest`` is the ``[T, B]`` env_info buffer (a namedarraytuple, possibly
    nested), ``env_infos`` the ``B`` env_info namedtuples of one time step.
    Writing each env's namedtuple separately walks the buffer's fields once
    per env; here each field's ``[B]`` row is written once from the list of
    its ``B`` values. Steps whose infos are not all of one namedtuple type
    with the buffer's fields (or are empty) go through the per-env writes,
    which check them and raise on a mismatch.
    """
    first = env_infos[0]
    cls = type(first)
    if (
        not first
        # The env's own info namedtuples.
        or getattr(first, "_fields", None) != dest._fields
        or any(type(info) is not cls for info in env_infos)
    ):
        for b, info in enumerate(env_infos):
            if info:
                dest[t, b] = info
        return
    for leaf, column in zip(dest, zip(*env_infos)):
        if leaf is None or column[0] is None:
            continue  # empty placeholder: nothing stored (as the per-env write)
        if isinstance(leaf, tuple):  # a nested info namedtuple
            write_env_infos(leaf, t, column)
        else:
            leaf[t] = column


def traj_info_reads_agent_info(TrajInfoCls) -> bool:
    """Whether ``TrajInfoCls.step`` may read its ``agent_info`` argument.

    The base :class:`~rlpyt.samplers.collections.TrajInfo` ignores it, so
    collectors pass ``None`` instead of indexing the agent's ``[B]`` output
    for each env at each step (a nested namedarraytuple read, ~5 us); a class
    that overrides ``step`` gets ``agent_info[b]`` as before.
    """
    if isinstance(TrajInfoCls, TrajInfoFactory):
        TrajInfoCls = TrajInfoCls.TrajInfoCls
    return TrajInfoCls.step is not TrajInfo.step


class BaseCollector:
    """Holds the envs, their slice of the samples buffer, and the agent.

    Args:
        rank: index of this collector (worker) among the sampler's.
        envs: the ``B`` envs this collector steps: a list of envs, or one
            :class:`~rlpyt.samplers.env_batch.GuardedEnvBatch` stepped in one call.
        samples_np: numpy samples buffer of leading dims ``[T, B]`` (this
            collector's columns only).
        batch_T: time steps per batch.
        TrajInfoCls: per-trajectory diagnostics class.
        agent: the agent (for collectors that choose actions themselves).
        global_B, env_ranks: this collector's envs among all envs of the run.
        seed: run seed; env ``r``'s random decorrelation length comes from
            ``derive_seed(seed, "decorrelate", r)`` (``r`` its global rank), so
            serial and parallel samplers start every env identically.

    Attributes read by the samplers:
        batched: True when ``envs`` is an env batch (the CPU collectors then run the loops
            of :mod:`rlpyt.samplers.parallel.cpu.batch_collectors`).
        mid_batch_reset: True when envs reset as soon as their trajectory ends (every step
            of a batch is valid); False for wait-reset collectors.
        state_keys: the per-env attributes that carry over from one batch to the next
            (wait-reset flags), saved by :meth:`state_dict` for exact resume.
    """

    mid_batch_reset = True
    state_keys = ()

    def __init__(
        self,
        rank,
        envs,
        samples_np,
        batch_T,
        TrajInfoCls,
        agent=None,
        sync=None,
        step_buffer_np=None,
        global_B=1,
        env_ranks=None,
        seed=None,
    ):
        self.rank = rank
        self.envs = envs
        self.batched = isinstance(envs, GuardedEnvBatch)
        self.samples_np = samples_np
        self.batch_T = batch_T
        self.TrajInfoCls = TrajInfoCls
        self.agent = agent
        self.sync = sync
        self.step_buffer_np = step_buffer_np
        self.global_B = global_B
        self.env_ranks = env_ranks
        self.seed = seed
        if self.env_ranks is None:
            self.env_ranks = list(range(len(envs)))
        # Only PG-style algorithms ask for value bootstrapping (AgentSamplesBsv).
        self._bootstrap = "bootstrap_value" in samples_np.agent._fields
        # Only replay-based algorithms ask for final observations (EnvSamplesFo).
        self._final_obs = "final_observation" in samples_np.env._fields
        self._traj_agent_info = traj_info_reads_agent_info(TrajInfoCls)

    def start_envs(self, max_decorrelation_steps: int = 0):
        """Reset envs; returns ``(AgentInputs, traj_infos)`` to start collecting from."""
        raise NotImplementedError

    def _env_rng(self, b):
        """The generator of env ``b``'s start-up randomness (seeded by its global rank)."""
        if self.seed is None:
            return np.random.default_rng()
        return np.random.default_rng(derive_seed(self.seed, "decorrelate", self.env_ranks[b]))

    def _final_value(self, final_obs, step_action, r, b, agent_inputs_pyt):
        """V(final observation) of env ``b`` whose episode a time limit cut.

        Called before the env resets (the observation is lost after). Rare (once
        per truncated episode), so it evaluates the whole batch of inputs with
        env ``b``'s final observation, action and reward substituted.
        """
        observation, action, reward = numpify_buffer(agent_inputs_pyt)
        saved = (buffer_method(observation[b], "copy"), action[b].copy(), reward[b].copy())
        observation[b], action[b], reward[b] = final_obs, step_action[b], r
        try:
            value = self.agent.value(*agent_inputs_pyt)
        finally:
            observation[b], action[b], reward[b] = saved
        return value[b]

    def start_agent(self):
        """Tell the agent which envs it acts for, and reset its per-env state.

        ``collector_initialize`` (a no-op but for e.g. epsilon-greedy agents) gets
        this collector's global env ranks: a CPU-sampler worker's copy of the agent
        then explores with its own per-env epsilons and its own random stream.
        """
        if self.agent is not None:
            self.agent.collector_initialize(global_B=self.global_B, env_ranks=self.env_ranks)
            self.agent.reset()
            self.agent.sample_mode(itr=0)

    def collect_batch(self, agent_inputs, traj_infos, itr):
        """Fill one batch; returns ``(agent_inputs, traj_infos, completed_infos)``."""
        raise NotImplementedError

    def reset_if_needed(self, agent_inputs):
        """Between batches (wait-reset collectors only)."""

    def state_dict(self) -> dict:
        """Copies of :attr:`state_keys`: what this collector carries between batches besides
        the envs, agent inputs and open trajectories (which the sampler saves)."""
        # getattr by name: the collector's own attributes, listed in state_keys.
        return {key: copy.deepcopy(getattr(self, key)) for key in self.state_keys}

    def load_state_dict(self, state: dict, envs=None) -> None:
        """Restore :meth:`state_dict` for the env indices ``envs`` (default: all of them)."""
        for key in self.state_keys:  # the collector's own attributes, by name
            value, current = state[key], getattr(self, key)
            for b in range(len(self.envs)) if envs is None else envs:
                if isinstance(value, dict):  # {b: observation} (GpuWaitResetCollector)
                    current.pop(b, None)
                    if b in value:
                        current[b] = value[b]
                else:
                    current[b] = value[b]


class DecorrelatingStartCollector(BaseCollector):
    """Starts each env with a random number of random-action steps.

    Without it, all B envs would start (and end) their episodes in lockstep,
    making every batch see the same phase of the episode.
    """

    def start_envs(self, max_decorrelation_steps: int = 0):
        if self.batched:
            return start_batch(self, max_decorrelation_steps)
        traj_infos = [self.TrajInfoCls() for _ in self.envs]
        observations = [env.reset() for env in self.envs]
        observation = buffer_from_example(observations[0], len(self.envs))
        for b, obs in enumerate(observations):
            observation[b] = obs
        prev_action = np.stack([env.action_space.null_value() for env in self.envs])
        prev_reward = np.zeros(len(self.envs), dtype=np.float32)
        if max_decorrelation_steps > 0:
            for b, env in enumerate(self.envs):
                n_steps = 1 + int(self._env_rng(b).integers(max_decorrelation_steps))
                o, a, r = observation[b], prev_action[b], 0.0
                for _ in range(n_steps):
                    a = env.action_space.sample()
                    o, r, d, info = env.step(a)
                    traj_infos[b].step(o, a, r, d, None, info)
                    # The env's own EnvInfo: traj_done and timeout are optional fields.
                    if getattr(info, "traj_done", d):
                        o = env.reset()
                        traj_infos[b] = self.TrajInfoCls()
                    if d:  # the next step starts fresh: null previous action and reward
                        a = env.action_space.null_value()
                        r = 0.0
                observation[b] = o
                prev_action[b] = a
                prev_reward[b] = r
        return AgentInputs(observation, prev_action, prev_reward), traj_infos


class BaseEvalCollector:
    """Runs complete evaluation episodes; reports only those that finished.

    Which episodes are evaluated is decided when they start, never by how soon
    they finish: each env runs episodes back to back, a new one starting only
    while fewer than ``max_trajectories`` have started, and every started
    episode runs until it ends or ``max_T`` steps pass. Stopping at the first
    ``max_trajectories`` *completed* episodes would over-represent short ones.
    """

    def __init__(
        self,
        rank,
        envs,
        TrajInfoCls,
        traj_infos_queue=None,
        max_T=None,
        agent=None,
        sync=None,
        step_buffer_np=None,
        max_trajectories=None,
    ):
        self.rank = rank
        self.envs = envs
        self.batched = isinstance(envs, GuardedEnvBatch)  # as BaseCollector's
        self.TrajInfoCls = TrajInfoCls
        self.traj_infos_queue = traj_infos_queue
        self.max_T = max_T
        self.agent = agent
        self.sync = sync
        self.step_buffer_np = step_buffer_np
        self.max_trajectories = max_trajectories
        self.n_unfinished = 0  # episodes cut off by max_T in the last collect_evaluation

    def collect_evaluation(self, itr):
        raise NotImplementedError
