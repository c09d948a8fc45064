"""Shared machinery of the Q-function policy-gradient algorithms (DDPG, TD3, SAC).

Replay and update schedule come from :class:`~rlpyt.algos.replay.ReplayAlgorithm`
(a uniform n-step replay by default). Targets bootstrap through time-limit cuts
from the cut episode's final observation (the original rlpyt dropped those
samples) and never through terminations:
``y = return_ + bootstrap_discount * V(target_inputs)``.

Actions: the replay stores env-scale actions (what the env received); the
agents' networks work in ``[-1, 1]`` per dimension, so each batch's actions are
mapped once with ``agent.to_model_action``.
"""

import torch

from rlpyt.algos.optim import Optimizer, build_optimizer
from rlpyt.algos.replay import ReplayAlgorithm
from rlpyt.utils.buffer import buffer_to

__all__ = ["QpgAlgorithm", "Optimizer", "min_q", "check_bootstrap_timelimit"]


def check_bootstrap_timelimit(algo_name: str, bootstrap_timelimit) -> None:
    """The original rlpyt's ``bootstrap_timelimit``: True is what happens here, always.

    In the original, True masked out of the losses every sample whose n-step window a
    time limit cut (it had no final observation to bootstrap from) and False treated the
    cut as a termination. Here the replay keeps the cut episode's final observation, so
    every sample bootstraps correctly and neither workaround is needed; False would ask
    to train on targets that are known to be wrong, and is refused.
    """
    if bootstrap_timelimit is True:
        return
    if bootstrap_timelimit is False:
        raise ValueError(
            f"{algo_name}(bootstrap_timelimit=False) treated time-limit cuts as terminations "
            "in the original rlpyt (targets without the value of the next state, a known "
            "bias); here the replay keeps the cut episode's final observation and every "
            "target bootstraps through time limits, never through terminations. Drop the "
            "keyword (or pass True). An env whose time limit is part of the task should "
            "report terminated=True at the limit instead."
        )
    raise TypeError(f"bootstrap_timelimit must be True or False, got {bootstrap_timelimit!r}")


class QpgAlgorithm(ReplayAlgorithm):
    """Replay, update schedule, target updates and snapshots for DDPG, TD3 and SAC.

    Subclasses build their optimizers in :meth:`make_optimizers`, compute losses
    from a replay batch and apply them in :meth:`train_batch`, each optimizer step
    guarded (:meth:`step`): an update whose critic step is skipped as non-finite
    is skipped whole (no policy step, no target update, not counted); a skipped
    policy step skips only itself.
    """

    def __init__(self, **kwargs):
        """Arguments: see :class:`~rlpyt.algos.replay.ReplayAlgorithm` (all keyword-only)."""
        super().__init__(**kwargs)
        self.optimizers = {}

    # -- set-up -------------------------------------------------------------------

    def initialize_optimization(self):
        """The optimizers (:meth:`make_optimizers`); the agent learns when exploration ends."""
        if hasattr(self.agent, "give_min_itr_learn"):
            self.agent.give_min_itr_learn(self.min_itr_learn)
        self.make_optimizers()

    def make_optimizers(self):
        """Fill ``self.optimizers`` (name -> :data:`Optimizer`), e.g. with :meth:`build_optimizer`."""
        raise NotImplementedError

    def torch_optimizers(self) -> list:
        return [opt.optimizer for opt in self.optimizers.values()]

    def build_optimizer(self, params, learning_rate: float) -> Optimizer:
        return build_optimizer(self.OptimCls, params, learning_rate, self.optim_kwargs)

    # -- one iteration ------------------------------------------------------------------

    def ready_to_learn(self, itr: int) -> bool:
        """After ``min_steps_learn`` env steps and once the replay can fill a batch (a
        ``min_steps_learn`` below ``batch_size`` just waits for it)."""
        return super().ready_to_learn(itr) and self.replay_buffer.n_sampleable >= self.batch_size

    def optimize_agent(self, itr: int, samples=None, sampler_itr=None):
        """Append ``samples`` (if given) to the replay, then train on replay batches."""
        if samples is not None:
            self.append_samples(samples)
        opt_info = self.empty_opt_info()
        if not self.ready_to_learn(itr):
            return opt_info
        diagnostics = {name: [] for name in type(opt_info)._fields if name != "skipped"}
        for _ in range(self.n_updates()):
            skipped_before = self.guard.skipped_steps
            batch = self.replay_buffer.sample_batch(self.batch_size)
            if self.agent.device.type != "cpu":  # replay batches are CPU tensors
                batch = buffer_to(batch, self.agent.device)
            batch = batch._replace(action=self.agent.to_model_action(batch.action))
            values, critic_applied = self.train_batch(itr, batch)
            for name, value in values.items():
                diagnostics[name].append(value.detach())
            opt_info.skipped.append(float(self.guard.skipped_steps > skipped_before))
            if critic_applied:
                self.update_counter += 1
                if self.update_counter % self.target_update_interval == 0:
                    self.agent.update_target(tau=self.target_update_tau)
        # One host sync per iteration for all diagnostics (one per step for the guard).
        diagnostics = {k: v for k, v in diagnostics.items() if v}
        if len({len(v) for v in diagnostics.values()}) == 1:  # few ops: this may run every step
            table = torch.stack([torch.stack(v) for v in diagnostics.values()]).float().cpu()
            values = dict(zip(diagnostics, table.unbind(0), strict=True))
        else:
            values = {k: torch.stack(v).float().cpu() for k, v in diagnostics.items()}
        for name, column in values.items():
            # An OptInfo field, by name.
            getattr(opt_info, name).extend(column.tolist())
        return opt_info

    def empty_opt_info(self):
        raise NotImplementedError

    def train_batch(self, itr: int, batch) -> tuple[dict, bool]:
        """Gradient steps on one replay batch -> ``(diagnostics, critic step applied)``.

        Diagnostics: ``{opt_info field: 0-d tensor}`` (``skipped``, 1.0 for an update
        with a step skipped as non-finite, is filled in by :meth:`optimize_agent`).
        """
        raise NotImplementedError

    def step(self, itr: int, name: str, pairs, terms: dict, norm_names) -> tuple[list, bool]:
        """One guarded step of ``(optimizer, loss)`` pairs with one backward pass
        (:meth:`GuardedStep.step <rlpyt.algos.optim.GuardedStep.step>`) -> ``(norms, applied)``.

        Each loss must reach only its own optimizer's parameters (SAC's alpha loss sees
        ``log_pi`` detached). Only they get gradients: ``loss.backward()`` would also
        compute the critics' weight gradients of a policy loss (for SAC six of its
        27 matmuls a step).
        """
        return self.guard.step(
            itr,
            pairs,
            self.clip_grad_norm,
            terms=terms,
            norm_names=norm_names,
            own_params_only=True,
            name=name,
        )

    # -- saving and resuming ------------------------------------------------------------

    def optim_state_dict(self) -> dict:
        return {name: opt.optimizer.state_dict() for name, opt in self.optimizers.items()}

    def load_optim_state_dict(self, state_dict: dict):
        for name, opt in self.optimizers.items():
            opt.optimizer.load_state_dict(state_dict[name])


def min_q(q1: torch.Tensor, q2: torch.Tensor) -> torch.Tensor:
    """Clipped double-Q (Fujimoto et al. 2018): the smaller of the twin estimates."""
    return torch.minimum(q1, q2)
