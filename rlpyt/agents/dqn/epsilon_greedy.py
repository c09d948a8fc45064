"""The exploration schedule of epsilon-greedy agents, and the generator their draws come from.

Schedule (a pure function of the sampler iteration ``itr``, :meth:`epsilon_at`):
``eps_init`` until ``eps_itr_min``, then linear to ``eps_final`` at ``eps_itr_max``,
constant after. The algorithm converts its step counts into iterations with
:meth:`set_epsilon_itr_min_max`. Evaluation uses ``eps_eval``.

Vector epsilon (Ape-X, Horgan et al. 2018): with ``eps_final_min`` each env gets
its own final epsilon, log-spaced over the *global* env index ``0 .. global_B - 1``
from ``eps_final_min`` (env 0) to ``eps_final`` (env ``global_B - 1``; a lone env
gets ``eps_final``), and anneals to it from ``eps_init`` on the same schedule.
The agent then expects ``[B]`` inputs, B = ``len(env_ranks)``.

Randomness: the agent owns a ``torch.Generator`` on its model's device, seeded
with ``derive_seed(run seed, "epsilon_greedy", env_ranks[0])``, the run seed
being ``torch.initial_seed()`` when the agent is initialized (the runner seeds
torch first). Serial runs therefore reproduce exactly, and
:meth:`sampling_state_dict` carries the generator state into snapshots.
"""

import warnings

import numpy as np
import torch

from rlpyt.utils.seed import derive_seed
from rlpyt.utils.validation import (
    require_in_range,
    require_int_at_least,
)

__all__ = ["EpsilonGreedyAgentMixin"]


class EpsilonGreedyAgentMixin:
    """Mix in before :class:`~rlpyt.agents.base.BaseAgent`; needs ``self.distribution``
    to be an :class:`~rlpyt.distributions.epsilon_greedy.EpsilonGreedy` before
    :meth:`collector_initialize` (the agent's ``initialize`` calls it).
    """

    def __init__(
        self,
        *,
        eps_init: float = 1.0,
        eps_final: float = 0.01,
        eps_final_min: float | None = None,
        eps_itr_min: int = 50,
        eps_itr_max: int = 1000,
        eps_eval: float = 0.001,
        **kwargs,
    ):
        super().__init__(**kwargs)
        require_in_range("eps_init", eps_init, 0.0, 1.0)
        require_in_range("eps_final", eps_final, 0.0, 1.0)
        require_in_range("eps_eval", eps_eval, 0.0, 1.0)
        if eps_final_min is not None:
            # Log-spacing needs both ends strictly positive.
            require_in_range("eps_final_min", eps_final_min, 0.0, 1.0, low_inclusive=False)
            require_in_range("eps_final (with eps_final_min)", eps_final, 0.0, 1.0, False)
        self.eps_init = float(eps_init)
        self.eps_final = float(eps_final)
        self.eps_final_min = None if eps_final_min is None else float(eps_final_min)
        self.eps_eval = float(eps_eval)
        self.eps_itr_min = 0
        self.eps_itr_max = 0
        self.set_epsilon_itr_min_max(eps_itr_min, eps_itr_max)
        self._eps_final_vec = None  # float64 [B] per-env final epsilons (vector epsilon only)
        self._exploration_seed_base = None  # the run seed, read at initialize
        self._exploration_seed = None
        self.exploration_generator = None

    # -- schedule ---------------------------------------------------------------

    def set_epsilon_itr_min_max(self, itr_min: int, itr_max: int) -> None:
        """Anneal from ``eps_init`` at iteration ``itr_min`` to the final value at ``itr_max``."""
        itr_min = require_int_at_least("eps_itr_min", itr_min, 0)
        itr_max = require_int_at_least("eps_itr_max", itr_max, int(itr_min))
        self.eps_itr_min = int(itr_min)
        self.eps_itr_max = int(itr_max)

    def epsilon_progress(self, itr: int) -> float:
        """0 until ``eps_itr_min``, linear to 1 at ``eps_itr_max``, then 1."""
        if itr >= self.eps_itr_max:
            return 1.0
        if itr <= self.eps_itr_min:
            return 0.0
        return (itr - self.eps_itr_min) / (self.eps_itr_max - self.eps_itr_min)

    def epsilon_at(self, itr: int):
        """The sampling epsilon at iteration ``itr``: a float, or with ``eps_final_min`` a
        float32 ``[B]`` CPU tensor over this agent's envs (``env_ranks``).
        """
        prog = self.epsilon_progress(itr)
        if self.eps_final_min is None:
            return prog * self.eps_final + (1 - prog) * self.eps_init
        if self._eps_final_vec is None:
            raise RuntimeError("vector epsilon: call initialize (or collector_initialize) first")
        vec = prog * self._eps_final_vec + (1 - prog) * self.eps_init
        return torch.from_numpy(vec.astype(np.float32))

    def per_env_final_epsilon(self, global_B: int, env_ranks) -> np.ndarray:
        """Final epsilons ``[len(env_ranks)]`` (float64) of these envs among ``global_B``."""
        if global_B == 1:
            all_final = np.array([self.eps_final])
        else:
            all_final = np.geomspace(self.eps_final_min, self.eps_final, global_B)
        return all_final[np.asarray(env_ranks, dtype=np.int64)]

    # -- set-up -----------------------------------------------------------------

    def collector_initialize(self, global_B: int = 1, env_ranks=None) -> None:
        """Set the envs this agent acts for: their epsilons and the exploration generator.

        Called by the agent's ``initialize``; a sampler worker that steps only a
        slice of the envs calls it again with that slice's ``env_ranks``, so its
        epsilons match its envs and its random stream differs from the others'.
        """
        global_B = require_int_at_least("global_B", global_B, 1)
        env_ranks = list(range(global_B)) if env_ranks is None else list(env_ranks)
        if not env_ranks or min(env_ranks) < 0 or max(env_ranks) >= global_B:
            raise ValueError(f"env_ranks {env_ranks} must be non-empty and in [0, {global_B})")
        if self._exploration_seed_base is None:
            self._exploration_seed_base = torch.initial_seed()
        if self.eps_final_min is not None:
            self._eps_final_vec = self.per_env_final_epsilon(global_B, env_ranks)
        self._exploration_seed = derive_seed(
            self._exploration_seed_base, "epsilon_greedy", env_ranks[0]
        )
        self._build_exploration_generator()
        # Until the first sample_mode: every env starts at eps_init (also for the example
        # step, which has no batch dim).
        self.distribution.set_epsilon(self.eps_init)

    def _build_exploration_generator(self) -> None:
        """A generator on the model's device, seeded afresh (called again after ``to_device``)."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self._exploration_seed)
        self.exploration_generator = generator
        self.distribution.set_generator(generator)

    # -- modes ------------------------------------------------------------------

    def sample_mode(self, itr: int):
        super().sample_mode(itr)
        eps = self.epsilon_at(itr)
        if isinstance(eps, torch.Tensor):
            eps = eps.to(self.device)
        self.distribution.set_epsilon(eps)

    def eval_mode(self, itr: int):
        super().eval_mode(itr)
        self.distribution.set_epsilon(self.eps_eval)

    # -- snapshots --------------------------------------------------------------

    def sampling_state_dict(self) -> dict:
        """The exploration generator's state (and device type), for exact resumption."""
        return {
            "exploration_rng": self.exploration_generator.get_state(),
            "exploration_rng_device": self.exploration_generator.device.type,
        }

    def load_sampling_state_dict(self, state: dict) -> None:
        rng_state = state.get("exploration_rng")
        if rng_state is None:
            return
        device = state.get("exploration_rng_device", "cpu")
        if device != self.exploration_generator.device.type:
            # CPU and CUDA generators are different algorithms: their states do not convert.
            warnings.warn(
                f"the snapshot's exploration generator ran on {device}, this agent's on "
                f"{self.exploration_generator.device.type}: exploration restarts from its seed",
                stacklevel=2,
            )
            return
        self.exploration_generator.set_state(rng_state)
