"""Sampling in the training process: the mode to debug in.

Envs and agent run in this process, one env after the other at each time
step. Identical seeds give identical samples.
"""

import copy
import pickle
import warnings

from rlpyt.samplers.base import BaseSampler
from rlpyt.samplers.buffer import build_samples_buffer
from rlpyt.samplers.collections import TrajInfoFactory
from rlpyt.samplers.env_batch import close_envs, is_batch_factory, make_env_batch
from rlpyt.samplers.parallel.cpu.collectors import CpuEvalCollector, CpuResetCollector
from rlpyt.samplers.parallel.worker import NAN_CHECKS, GuardedEnv
from rlpyt.utils.seed import derive_seed, make_seed

__all__ = ["SerialSampler", "SerialEvalCollector"]


class SerialEvalCollector(CpuEvalCollector):
    """Evaluation collector of the serial sampler (same process as training)."""


class SerialSampler(BaseSampler):
    """Steps ``batch_B`` envs with the agent in this process.

    Keyword arguments are those of :class:`~rlpyt.samplers.base.BaseSampler`;
    ``CollectorCls`` defaults to :class:`CpuResetCollector` and
    ``eval_CollectorCls`` to :class:`SerialEvalCollector`. ``nan_check``
    (``"raise"``, ``"warn"`` or ``"off"``) and the first-observation check are
    the parallel samplers' (:class:`~rlpyt.samplers.parallel.worker.GuardedEnv`).
    """

    def __init__(
        self,
        *args,
        CollectorCls=CpuResetCollector,
        eval_CollectorCls=SerialEvalCollector,
        nan_check="raise",
        **kwargs,
    ):
        super().__init__(
            *args, CollectorCls=CollectorCls, eval_CollectorCls=eval_CollectorCls, **kwargs
        )
        if nan_check not in NAN_CHECKS:
            raise ValueError(f"nan_check must be one of {NAN_CHECKS}, got {nan_check!r}")
        self.nan_check = nan_check
        self._closed = True  # until initialize()

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
        """Build envs, the agent's model and the samples buffer; returns the examples."""
        B = self.batch_spec.B
        self.seed = seed = make_seed() if seed is None else seed
        global_B = B * world_size
        env_ranks = list(range(rank * B, (rank + 1) * B))
        batched = is_batch_factory(self.EnvCls)
        if batched:  # one env batch, stepped in one call (rlpyt.envs.vector)
            env_seeds = [derive_seed(seed, "env", r) for r in env_ranks]
            envs = make_env_batch(
                self.EnvCls, self.env_kwargs, env_ranks, env_seeds, self.nan_check, None
            )
        else:
            envs = [self.EnvCls(**self.env_kwargs) for _ in range(B)]
            for b, env in enumerate(envs):
                env.seed(derive_seed(seed, "env", env_ranks[b]))
        spaces = envs.spaces if batched else envs[0].spaces
        agent.initialize(spaces, share_memory=False, global_B=global_B, env_ranks=env_ranks)
        # The examples come from a throwaway env, so the training envs start untouched.
        example_env = self.EnvCls(**self.env_kwargs)
        example_env.seed(derive_seed(seed, "example_env"))
        try:
            samples_pyt, samples_np, examples = build_samples_buffer(
                agent,
                example_env,
                self.batch_spec,
                bootstrap_value,
                agent_shared=False,
                env_shared=False,
                final_observation=final_observation,
            )
        finally:
            example_env.close()
        self.traj_info_factory = TrajInfoFactory(self.TrajInfoCls, traj_info_kwargs)
        if batched:
            envs.observation_example = examples["observation"]
        else:
            envs = self._guarded(envs, env_ranks, examples["observation"])
        self.collector = self.CollectorCls(
            rank=0,
            envs=envs,
            samples_np=samples_np,
            batch_T=self.batch_spec.T,
            TrajInfoCls=self.traj_info_factory,
            agent=agent,
            global_B=global_B,
            env_ranks=env_ranks,
            seed=seed,
        )
        self.mid_batch_reset = self.CollectorCls.mid_batch_reset
        self.eval_collector = None
        if self.eval_n_envs > 0:
            eval_ranks = [rank * self.eval_n_envs + b for b in range(self.eval_n_envs)]
            if batched:
                eval_envs = make_env_batch(
                    self.EnvCls,
                    self.eval_env_kwargs,
                    eval_ranks,
                    [derive_seed(seed, "eval_env", r) for r in eval_ranks],
                    self.nan_check,
                    examples["observation"],
                )
            else:
                eval_envs = [self.EnvCls(**self.eval_env_kwargs) for _ in eval_ranks]
                for r, env in zip(eval_ranks, eval_envs):
                    env.seed(derive_seed(seed, "eval_env", r))
                eval_envs = self._guarded(eval_envs, eval_ranks, examples["observation"])
            self.eval_collector = self.eval_CollectorCls(
                rank=0,
                envs=eval_envs,
                TrajInfoCls=self.traj_info_factory,
                max_T=self.eval_max_steps // self.eval_n_envs,
                agent=agent,
                max_trajectories=self.eval_max_trajectories,
            )
        self.agent_inputs, self.traj_infos = self.collector.start_envs(self.max_decorrelation_steps)
        self.collector.start_agent()
        self.agent = agent
        self.samples_pyt = samples_pyt
        self.samples_np = samples_np
        self._closed = False
        return examples

    def obtain_samples(self, itr):
        """Collect one ``[T, B]`` batch; returns ``(samples_pyt, completed traj_infos)``.

        The returned samples are views of this sampler's buffer: they are
        overwritten by the next call.
        """
        self._check_open()
        self.collector.reset_if_needed(self.agent_inputs)
        self.agent_inputs, self.traj_infos, completed = self.collector.collect_batch(
            self.agent_inputs, self.traj_infos, itr
        )
        return self.samples_pyt, completed

    def evaluate_agent(self, itr):
        """Run evaluation episodes; returns the completed ones' traj_infos."""
        self._check_open()
        if self.eval_collector is None:
            raise RuntimeError("evaluate_agent needs eval_n_envs > 0 in the sampler")
        traj_infos = self.eval_collector.collect_evaluation(itr)
        if self.eval_collector.n_unfinished:
            warnings.warn(
                f"evaluation at itr {itr}: {self.eval_collector.n_unfinished} episode(s) still "
                f"running after eval_max_steps={self.eval_max_steps} were not counted; raise "
                "eval_max_steps to evaluate every started episode",
                stacklevel=2,
            )
        return traj_infos

    def _guarded(self, envs, ranks, observation_example):
        return [
            GuardedEnv(env, r, self.nan_check, observation_example) for env, r in zip(envs, ranks)
        ]

    def _check_open(self):
        if self._closed:
            raise RuntimeError("SerialSampler used before initialize() or after shutdown()")

    def shutdown(self):
        """Close the envs (idempotent)."""
        if self._closed:
            return
        self._closed = True
        close_envs(self.collector.envs)
        if self.eval_collector is not None:
            close_envs(self.eval_collector.envs)

    # -- resume -----------------------------------------------------------------

    def state_dict(self) -> dict:
        """The sampling state between batches: envs, agent inputs, open trajectories.

        Envs are pickled (gymnasium classic-control and MuJoCo envs, and
        AtariEnv, support it). An env that cannot be pickled is reset on
        resume instead, with a warning: the run continues, but not bit-exactly.
        """
        state = {
            "envs": _pickled_envs(_unguarded(self.collector)),
            "eval_envs": _pickled_envs(_unguarded(self.eval_collector))
            if self.eval_collector
            else None,
            "agent_inputs": copy.deepcopy(self.agent_inputs),
            "traj_infos": copy.deepcopy(self.traj_infos),
        }
        state["collector"] = self.collector.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if state["envs"] is not None:
            _restore_envs(self.collector, pickle.loads(state["envs"]))
            self.agent_inputs[:] = state["agent_inputs"]
            self.traj_infos = state["traj_infos"]
        if state.get("eval_envs") is not None and self.eval_collector is not None:
            _restore_envs(self.eval_collector, pickle.loads(state["eval_envs"]))
        self.collector.load_state_dict(state["collector"])


def _unguarded(collector):
    """The collector's envs without their guards: a list, or the one env batch."""
    if collector.batched:
        return collector.envs.env
    return [g.env for g in collector.envs]


def _restore_envs(collector, envs) -> None:
    """Put :func:`_unguarded`'s saved envs back into the collector's guards."""
    if collector.batched:
        collector.envs.env.close()
        collector.envs.env = envs
        return
    for guarded, env in zip(collector.envs, envs):
        guarded.env.close()
        guarded.env = env


def _pickled_envs(envs):
    try:
        return pickle.dumps(envs)
    except Exception as err:  # noqa: BLE001 - any pickling failure means "not resumable"
        warnings.warn(
            f"envs cannot be saved in the snapshot ({err}); a resumed run resets "
            "them and continues, but not bit-exactly",
            stacklevel=3,
        )
        return None
