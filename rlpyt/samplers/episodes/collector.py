"""The episode loop of every episode sampler: a group of envs played in lockstep.

:class:`EpisodeCollector` holds some envs (all of them in the serial sampler, a
worker's slice in the parallel and Ray samplers) and an agent bound to them. One
:meth:`~EpisodeCollector.collect` call is one epoch: every env plays one episode
from reset to its end, and at each real step the agent plans for all envs still
running with one ``agent.step`` call, so that a planning agent batches their
searches' network calls (:mod:`rlpyt.agents.planning.base`).

**Seeds.** At epoch ``e`` the env of global rank ``r`` is reseeded with
``derive_seed(seed, "env", r, e)`` before its reset, so the epoch's episodes
depend only on the run's seed, the env ranks, the epoch number and the agent (its
weights and per-env generators), never on how the envs are split among workers,
and resuming needs only the epoch counter and the agent's generators.
"""

import numpy as np

from rlpyt.samplers.episodes.base import Episode
from rlpyt.samplers.parallel.env_groups import make_example_env
from rlpyt.utils.buffer import buffer_from_example
from rlpyt.utils.seed import derive_seed

__all__ = ["EpisodeCollector", "make_collector", "stack_rows"]


def stack_rows(rows):
    """``[T]`` namedarraytuple (or array) from ``T`` rows of the same structure."""
    stacked = buffer_from_example(rows[0], len(rows))
    for t, row in enumerate(rows):
        stacked[t] = row
    return stacked


class EpisodeCollector:
    """Plays one episode per env per epoch, the envs in lockstep (see the module docstring).

    Args:
        envs: the envs, already bound to ``agent`` (``agent.bind_envs(envs)``).
        env_ranks: their global ranks (for the seeds and ``Episode.env_rank``).
        agent: a planning agent (``step(..., env_ids=...)`` and ``step_metrics``).
        traj_info_factory: makes each episode's
            :class:`~rlpyt.samplers.episodes.base.EpisodeTrajInfo`.
        episode_time_limit: cut episodes after this many steps (None: only the env ends them).
        seed: the run's seed.
    """

    def __init__(self, envs, env_ranks, agent, traj_info_factory, episode_time_limit, seed):
        if len(envs) != len(env_ranks):
            raise ValueError(f"{len(envs)} envs but {len(env_ranks)} env_ranks")
        self.envs = list(envs)
        self.env_ranks = [int(r) for r in env_ranks]
        self.agent = agent
        self.traj_info_factory = traj_info_factory
        self.episode_time_limit = episode_time_limit
        self.seed = int(seed)

    def collect(self, epoch: int):
        """Play epoch ``epoch``: returns ``(episodes, traj_infos)``, one of each per env, in
        env order. The agent is put in sample mode (its network in eval mode)."""
        envs, agent = self.envs, self.agent
        agent.sample_mode(epoch)
        for env, rank in zip(envs, self.env_ranks):
            env.seed(derive_seed(self.seed, "env", rank, epoch))
        observation = [np.asarray(env.reset()) for env in envs]
        agent.reset()
        B = len(envs)
        null_action = envs[0].action_space.null_value()
        prev_action = np.stack([null_action] * B)
        prev_reward = np.zeros(B, dtype=np.float32)
        observations = [[o] for o in observation]
        actions = [[] for _ in range(B)]
        rewards = [[] for _ in range(B)]
        agent_infos = [[] for _ in range(B)]
        traj_infos = [self.traj_info_factory() for _ in range(B)]
        episodes = [None] * B
        limit = self.episode_time_limit
        active = list(range(B))
        while active:
            agent_step = agent.step(
                np.stack([observation[b] for b in active]),
                prev_action[active],
                prev_reward[active],
                env_ids=active,
            )
            still_running = []
            for i, b in enumerate(active):
                action = agent_step.action[i]
                agent_info = agent_step.agent_info[i]
                obs, reward, done, env_info = envs[b].step(action)
                traj_infos[b].step(observation[b], action, reward, done, agent_info, env_info)
                traj_infos[b].add_agent_metrics(agent.step_metrics[i])
                observation[b] = np.asarray(obs)
                observations[b].append(observation[b])
                actions[b].append(action)
                rewards[b].append(reward)
                agent_infos[b].append(agent_info)
                prev_action[b] = action
                prev_reward[b] = reward
                if done or (limit is not None and len(actions[b]) >= limit):
                    # A time limit (the env's, flagged by env_info.timeout, or ours) is not a
                    # terminal state: value targets bootstrap from the last observation.
                    terminated = bool(done) and not bool(getattr(env_info, "timeout", False))
                    episodes[b] = Episode(
                        observation=np.stack(observations[b]),
                        action=np.stack(actions[b]),
                        reward=np.asarray(rewards[b], dtype=np.float32),
                        terminated=terminated,
                        solved=bool(getattr(env_info, "solved", False)),
                        agent_info=stack_rows(agent_infos[b]),
                        env_rank=self.env_ranks[b],
                    )
                    traj_infos[b] = traj_infos[b].terminate(observation[b])
                else:
                    still_running.append(b)
            active = still_running
        return episodes, traj_infos

    def close(self) -> None:
        for env in self.envs:
            env.close()


def make_collector(
    EnvCls,
    env_kwargs,
    env_ranks,
    agent,
    global_B,
    traj_info_factory,
    episode_time_limit,
    seed,
    share_memory=False,
) -> EpisodeCollector:
    """Build the envs of ``env_ranks``, initialize ``agent`` for them and bind it to them.

    ``share_memory``: passed to ``agent.initialize`` (a Ray actor's agent sets it, so
    that its model is ``agent.shared_model``, where the Ray weights arrive).

    The agent's generators are seeded from ``derive_seed(seed, "agent")`` and, per env,
    the env's rank (:meth:`~rlpyt.agents.planning.base.PlanningAgent.bind_envs`): the same
    in every process, so the split of the envs does not change the episodes.
    """
    envs = []
    try:
        for _ in env_ranks:
            envs.append(make_example_env(EnvCls, env_kwargs))
        agent.initialize(
            envs[0].spaces,
            share_memory=share_memory,
            global_B=global_B,
            env_ranks=list(env_ranks),
        )
        agent.bind_envs(envs, seed=derive_seed(seed, "agent"))
    except BaseException:
        for env in envs:
            env.close()
        raise
    return EpisodeCollector(envs, env_ranks, agent, traj_info_factory, episode_time_limit, seed)
