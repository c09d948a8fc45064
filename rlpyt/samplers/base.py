"""What every sampler shares: the constructor settings and the batch spec."""

from rlpyt.samplers.collections import BatchSpec, TrajInfo, TrajInfoFactory
from rlpyt.utils.validation import require_int_at_least

__all__ = ["BaseSampler"]


class BaseSampler:
    """Settings common to all samplers (the original rlpyt keyword names).

    Args:
        EnvCls: env constructor (class or function), called as ``EnvCls(**env_kwargs)``.
        env_kwargs: keyword arguments for ``EnvCls``.
        batch_T, batch_B: time steps per batch and number of envs.
        CollectorCls: collector class for training samples.
        max_decorrelation_steps: at start-up each env takes a random number of
            random-action steps up to this, so episodes are out of phase.
        TrajInfoCls: per-trajectory diagnostics.
        eval_n_envs: envs for offline evaluation (0: none).
        eval_CollectorCls: collector for evaluation.
        eval_env_kwargs: keyword arguments for eval envs (default ``env_kwargs``).
        eval_max_steps: total env steps per evaluation (across eval envs).
        eval_max_trajectories: evaluate at most this many episodes.
    """

    mid_batch_reset = True  # the collector's, set at initialize

    def __init__(
        self,
        EnvCls,
        env_kwargs,
        batch_T,
        batch_B,
        CollectorCls,
        max_decorrelation_steps=100,
        TrajInfoCls=TrajInfo,
        eval_n_envs=0,
        eval_CollectorCls=None,
        eval_env_kwargs=None,
        eval_max_steps=None,
        eval_max_trajectories=None,
    ):
        batch_T = require_int_at_least("batch_T", batch_T, 1)
        batch_B = require_int_at_least("batch_B", batch_B, 1)
        max_decorrelation_steps = require_int_at_least(
            "max_decorrelation_steps", max_decorrelation_steps, 0
        )
        eval_n_envs = require_int_at_least("eval_n_envs", eval_n_envs, 0)
        if eval_n_envs > 0 and eval_max_steps is None:
            raise ValueError(
                "eval_n_envs > 0 needs eval_max_steps (total env steps per evaluation)"
            )
        if eval_max_steps is not None:
            eval_max_steps = require_int_at_least(
                "eval_max_steps", eval_max_steps, max(1, eval_n_envs)
            )
        if eval_max_trajectories is not None:
            eval_max_trajectories = require_int_at_least(
                "eval_max_trajectories", eval_max_trajectories, 1
            )
        self.EnvCls = EnvCls
        self.env_kwargs = dict(env_kwargs or {})
        self.batch_spec = BatchSpec(int(batch_T), int(batch_B))
        self.CollectorCls = CollectorCls
        self.max_decorrelation_steps = int(max_decorrelation_steps)
        self.TrajInfoCls = TrajInfoCls
        # Makes the TrajInfo records; initialize() binds the runner's traj_info_kwargs.
        self.traj_info_factory = TrajInfoFactory(TrajInfoCls)
        self.eval_n_envs = int(eval_n_envs)
        self.eval_CollectorCls = eval_CollectorCls
        self.eval_env_kwargs = dict(self.env_kwargs if eval_env_kwargs is None else eval_env_kwargs)
        self.eval_max_steps = None if eval_max_steps is None else int(eval_max_steps)
        self.eval_max_trajectories = eval_max_trajectories
        self.mid_batch_reset = CollectorCls.mid_batch_reset

    def initialize(
        self,
        agent,
        affinity=None,
        seed=None,
        bootstrap_value=False,
        traj_info_kwargs=None,
        final_observation=False,
        rank=0,
        world_size=1,
    ):
        raise NotImplementedError

    def obtain_samples(self, itr):
        raise NotImplementedError

    def evaluate_agent(self, itr):
        raise NotImplementedError

    def state_dict(self) -> dict | None:
        """The sampling state a snapshot keeps for exact resume (envs, RNGs, open episodes).

        ``None``: nothing is saved, and a resumed run restarts its envs.
        """
        return None

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (after ``initialize``, before sampling)."""

    def shutdown(self):
        pass
