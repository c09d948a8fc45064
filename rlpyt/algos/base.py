"""The algorithm interface: turn a batch of samples into agent updates."""

from rlpyt.algos.optim import GuardedStep

__all__ = ["RlAlgorithm"]


class RlAlgorithm:
    """Base class of all algorithms.

    Two-phase setup: ``__init__`` stores hyperparameters (and validates them);
    :meth:`initialize` binds the agent and builds the optimizer once the
    agent's parameters exist. The runner then calls :meth:`optimize_agent`
    once per iteration with the sampler's ``[T, B]`` batch.

    Subclasses keep ``loss(...)`` separate from :meth:`optimize_agent`, so a
    test can evaluate the loss on a hand-built batch.

    Attributes:
        opt_info_fields: names of the diagnostics in the ``OptInfo`` that
            :meth:`optimize_agent` returns (the logger records one statistic each).
        bootstrap_value: whether the sampler must store ``V`` of the
            observation after the batch (and of time-limit-cut final observations).
        final_observation: whether the sampler must store the final observation of an
            episode a time limit cut (replay-based algorithms bootstrap from it).
        discount: the per-step discount gamma; trajectory statistics report the
            discounted return with it (1.0 for algorithms without one).
        min_itr_learn: the first iteration with gradient steps (0: from the start;
            replay algorithms set it in :meth:`initialize`).
        updates_per_sync: under :class:`~rlpyt.runners.async_rl.AsyncRl`, gradient
            updates between two sends of the weights to the sampler process.
        update_counter: gradient steps applied so far.
        guard: the :class:`~rlpyt.algos.optim.GuardedStep` every gradient step goes
            through (non-finite steps are skipped and counted, FAULTS.md E1).
        replay_ratio: data consumed / data generated that an off-policy algorithm keeps
            (logged as ``ReplayRatio``); None for on-policy algorithms.
        corrects_policy_lag: an on-policy algorithm that corrects for the lag between the
            policy that collected a batch and the learner's (V-trace): it can train from
            :class:`~rlpyt.runners.actor_learner.ActorLearnerRl`'s rollouts, and runners
            log the policy lag of its batches (:mod:`rlpyt.runners.policy_lag`).
    """

    opt_info_fields = ()
    bootstrap_value = False
    final_observation = False
    discount = 1.0
    min_itr_learn = 0
    updates_per_sync = 1
    replay_ratio: float | None = None
    corrects_policy_lag = False

    def __init__(self):
        self.agent = None
        self.optimizer = None
        self.n_itr = None
        self.batch_spec = None
        self.mid_batch_reset = False
        self.world_size = 1
        self.rank = 0
        self.update_counter = 0
        self.guard = GuardedStep(type(self).__name__)
        self._batch_size = None

    def initialize(
        self,
        agent,
        n_itr: int,
        batch_spec,
        mid_batch_reset: bool = False,
        examples=None,
        world_size: int = 1,
        rank: int = 0,
    ):
        """Bind the agent and build the optimizer.

        Args:
            agent: an initialized agent (its model exists).
            n_itr: total training iterations (for schedules).
            batch_spec: the sampler's ``BatchSpec(T, B)``.
            mid_batch_reset: True when envs reset inside a batch (then every
                step is valid); False for collectors that wait to reset.
            examples: one sample of each buffer field (off-policy replays use it).
            world_size, rank: data-parallel process group (SyncRl).
        """
        raise NotImplementedError

    def optimize_agent(self, itr: int, samples):
        """Train on one batch of samples; returns an ``OptInfo`` of per-step lists."""
        raise NotImplementedError

    def torch_optimizers(self) -> list:
        """Every ``torch.optim.Optimizer`` this algorithm steps (SyncRl averages the
        gradients of all their parameters, e.g. SAC's temperature too)."""
        return [] if self.optimizer is None else [self.optimizer]

    # -- hooks of the asynchronous runner ------------------------------------------

    def enable_concurrent_append(self) -> None:
        """Make :meth:`append_samples` safe to call from another thread than :meth:`optimize_agent`.

        Called by :class:`~rlpyt.runners.async_rl.AsyncRl` after :meth:`initialize`: from
        then on a copier thread appends the sampler's batches while the optimizer trains.
        Only algorithms that learn from a replay can; the others refuse.
        """
        raise TypeError(
            f"{type(self).__name__} does not learn from a replay buffer: AsyncRl needs an "
            "off-policy (replay) algorithm; train it with MinibatchRl or SyncRl"
        )

    def fold_obs_statistics(self) -> None:
        """Fold the observations that concurrent appends deferred into the agent's statistics.

        Called by the async runner in the optimizer's thread (so a forward pass never sees
        half-updated statistics); a no-op unless :meth:`enable_concurrent_append` deferred some.
        """

    @property
    def batch_size(self) -> int:
        """Samples per gradient step (for logging)."""
        return self._batch_size

    @property
    def skipped_steps(self) -> int:
        """Gradient steps skipped so far for a non-finite loss or gradient norm."""
        return self.guard.skipped_steps

    # -- saving and resuming ----------------------------------------------------

    def optim_state_dict(self) -> dict:
        """The optimizer's state (the part of a snapshot the original rlpyt saved)."""
        return self.optimizer.state_dict()

    def load_optim_state_dict(self, state_dict: dict):
        self.optimizer.load_state_dict(state_dict)

    def state_dict(self) -> dict:
        """Everything needed to resume training where it stopped.

        Schedules are pure functions of the iteration, so with ``n_itr`` and
        the optimizer state a resumed run repeats the uninterrupted one.
        Subclasses extend the dict (e.g. a shuffling generator's state).
        """
        return dict(
            optimizer=self.optim_state_dict(),
            update_counter=self.update_counter,
            n_itr=self.n_itr,
            **self.guard.state_dict(),
        )

    def load_state_dict(self, state_dict: dict):
        """Restore :meth:`state_dict` output; call after :meth:`initialize`."""
        if self.agent is None:
            raise RuntimeError(
                f"{type(self).__name__}.load_state_dict needs the optimizer: "
                "call initialize(agent, ...) first"
            )
        self.load_optim_state_dict(state_dict["optimizer"])
        self.update_counter = state_dict["update_counter"]
        self.n_itr = state_dict["n_itr"]
        self.guard.load_state_dict(state_dict)
