"""What DDPG, TD3 and SAC agents share: the action box, exploration randomness, the learning start.

Action spaces. The networks work in the *model* action space ``[-1, 1]`` per
dimension; the env gets *env-scale* actions in its box ``[low, high]`` (possibly
asymmetric, e.g. ``low=[0, -2], high=[1, 3]``)::

    env = low + (model + 1) / 2 * (high - low)

``step()`` returns env-scale actions (what the env receives and the sampler
stores, so replay batches and ``prev_action`` hold env-scale actions too);
:meth:`QpgAgentMixin.to_model_action` maps a replay batch back, once, before
the losses. Agent infos (``mu``, ``dist_info``) are in model space.

Exploration randomness comes from a ``torch.Generator`` the agent owns, on its
model's device, seeded with ``derive_seed(run seed, "qpg_exploration",
env_ranks[0])`` (the run seed being ``torch.initial_seed()`` at initialize,
the runner seeds torch first); a CPU-sampler worker calls
:meth:`QpgAgentMixin.collector_initialize` with its own ``env_ranks`` and so
gets its own stream. Training-time noise (SAC's reparameterised samples, TD3's
target smoothing) uses the global torch RNG like any other training op.

Learning start. The algorithm announces the first iteration it learns at with
:meth:`QpgAgentMixin.give_min_itr_learn`; before it, agents explore with their
``pretrain_std``. The value sits in a one-element tensor that moves to shared
memory with the model, so CPU-sampler workers (forked before the algorithm is
initialized) see it too.
"""

import warnings

import numpy as np
import torch

from rlpyt.utils.buffer import buffer_to
from rlpyt.utils.seed import derive_seed
from rlpyt.utils.validation import require_int_at_least

__all__ = ["QpgAgentMixin", "split_initial_state"]


def split_initial_state(state_dict, agent_keys):
    """``(model weights or None, full agent state or None)`` from an ``initial_model_state_dict``.

    A dict holding every key of ``agent_keys`` is a whole agent's ``state_dict()``
    (restores all networks); anything else is the weights of the policy model.
    """
    if isinstance(state_dict, dict) and set(agent_keys) <= set(state_dict):
        return state_dict["model"], state_dict
    return state_dict, None


def check_state_keys(agent, state_dict, keys) -> None:
    """Raise a clear ``KeyError`` unless ``state_dict`` has every entry of ``keys``."""
    if not isinstance(state_dict, dict) or not set(keys) <= set(state_dict):
        found = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
        raise KeyError(
            f"{type(agent).__name__}.load_state_dict expects the dict state_dict() returns, "
            f"with keys {sorted(keys)}; got {found}"
        )


class QpgAgentMixin:
    """Mix in before :class:`~rlpyt.agents.base.BaseAgent`; see the module docstring.

    The agent's ``initialize`` calls this ``initialize`` (through ``super()``),
    then builds its other networks and its exploration distribution
    (``self.exploration_distribution``, a Gaussian), then calls
    :meth:`collector_initialize`.
    """

    updates_obs_rms = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._min_itr_learn = torch.zeros((), dtype=torch.int64)
        self.action_low = None  # float32 [A] CPU tensors, set at initialize
        self.action_high = None
        self._box_cache = {}
        self._exploration_seed_base = None  # the run seed, read at initialize
        self._exploration_seed = None
        self.exploration_generator = None
        self.exploration_distribution = None

    # -- set-up -----------------------------------------------------------------

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        action_shape = env_spaces.action.shape
        if len(action_shape) != 1:
            raise ValueError(
                f"{type(self).__name__} needs a 1-D continuous action space, got shape "
                f"{action_shape}"
            )
        return dict(observation_shape=env_spaces.observation.shape, action_size=action_shape[0])

    def initialize(self, env_spaces, share_memory: bool = False, global_B: int = 1, env_ranks=None):
        self._set_action_box(env_spaces.action)
        super().initialize(
            env_spaces, share_memory=share_memory, global_B=global_B, env_ranks=env_ranks
        )
        if share_memory:
            self._min_itr_learn.share_memory_()

    def _set_action_box(self, action_space) -> None:
        low = np.asarray(action_space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(action_space.high, dtype=np.float64).reshape(-1)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(
                f"{type(self).__name__} needs a bounded action box to scale [-1, 1] into, got "
                f"low={low} high={high}: wrap the env to bound its actions"
            )
        if not np.all(high > low):
            raise ValueError(
                f"{type(self).__name__}: every action dimension needs high > low, got "
                f"low={low} high={high}"
            )
        self.action_low = torch.as_tensor(low, dtype=torch.float32)
        self.action_high = torch.as_tensor(high, dtype=torch.float32)
        self._box_cache = {}

    def collector_initialize(self, global_B: int = 1, env_ranks=None) -> None:
        """Seed the exploration generator for the envs ``env_ranks`` among ``global_B``.

        Called by ``initialize``; a sampler worker calls it again with its own
        ``env_ranks``, so each worker explores with its own random stream.
        """
        global_B = require_int_at_least("global_B", global_B, 1)
        env_ranks = list(range(global_B)) if env_ranks is None else list(env_ranks)
        if not env_ranks or min(env_ranks) < 0 or max(env_ranks) >= global_B:
            raise ValueError(f"env_ranks {env_ranks} must be non-empty and in [0, {global_B})")
        if self._exploration_seed_base is None:
            self._exploration_seed_base = torch.initial_seed()
        self._exploration_seed = derive_seed(
            self._exploration_seed_base, "qpg_exploration", env_ranks[0]
        )
        self._build_exploration_generator()

    def _build_exploration_generator(self) -> None:
        """A generator on the model's device, seeded afresh (again after ``to_device``)."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self._exploration_seed)
        self.exploration_generator = generator
        self.exploration_distribution.set_generator(generator)

    def to_device(self, cuda_idx: int | None = None):
        super().to_device(cuda_idx)
        if self.exploration_generator.device != self.device:
            self._build_exploration_generator()

    # -- action spaces ----------------------------------------------------------

    def _box_like(self, x: torch.Tensor):
        """``(low, high, high - low)`` on ``x``'s device and in its dtype (cached)."""
        key = (x.device, x.dtype)
        box = self._box_cache.get(key)
        if box is None:
            low = self.action_low.to(device=x.device, dtype=x.dtype)
            high = self.action_high.to(device=x.device, dtype=x.dtype)
            box = self._box_cache[key] = (low, high, high - low)
        return box

    def to_env_action(self, model_action: torch.Tensor) -> torch.Tensor:
        """Model-space ``[..., A]`` in ``[-1, 1]`` -> env-scale ``[..., A]`` in ``[low, high]``.

        Any leading dims and device; the result is clamped to the box, so float
        rounding never puts an action outside it.
        """
        if not torch.is_floating_point(model_action):
            model_action = model_action.to(torch.float32)
        low, high, span = self._box_like(model_action)
        env_action = low + (model_action + 1) * 0.5 * span
        return torch.minimum(torch.maximum(env_action, low), high)

    def to_model_action(self, env_action: torch.Tensor) -> torch.Tensor:
        """Env-scale ``[..., A]`` -> model space ``[..., A]``, clamped to ``[-1, 1]``.

        The inverse of :meth:`to_env_action`; the algorithms apply it to replay batches.
        """
        if not torch.is_floating_point(env_action):
            env_action = env_action.to(torch.float32)
        low, _high, span = self._box_like(env_action)
        return torch.clamp((env_action - low) / span * 2 - 1, -1.0, 1.0)

    # -- learning start -----------------------------------------------------------

    def give_min_itr_learn(self, min_itr_learn: int) -> None:
        """The first sampler iteration at which the algorithm trains (from the algorithm)."""
        min_itr_learn = require_int_at_least("min_itr_learn", min_itr_learn, 0)
        self._min_itr_learn.fill_(int(min_itr_learn))

    @property
    def min_itr_learn(self) -> int:
        return int(self._min_itr_learn)

    # -- observation normalisation ------------------------------------------------

    def update_obs_rms(self, observation) -> None:
        """Fold newly collected observations into the running statistics of every network
        built with ``normalize_observation=True`` (in ``model_kwargs`` or ``q_model_kwargs``;
        targets included, so they normalise exactly as their online networks); a no-op
        without. The algorithm calls it on each sampler batch, never while sampling."""
        observation = self._model_inputs(observation)[0]
        for name in self._state_keys():
            # The networks are the user's model classes: normalisation is optional there.
            update = getattr(getattr(self, name), "update_obs_rms", None)
            if update is not None:
                update(observation)

    # -- devices ------------------------------------------------------------------

    def networks(self) -> dict:
        """Every network of the agent's ``state_dict()``, targets included."""
        return {name: getattr(self, name) for name in self._state_keys()}

    def _model_inputs(self, *inputs):
        """Inputs on the model's device (CPU tensors are already there: skip the tree walk)."""
        if self.device.type == "cpu":
            return inputs
        return buffer_to(inputs, device=self.device)

    def _to_cpu(self, outputs):
        return outputs if self.device.type == "cpu" else buffer_to(outputs, device="cpu")

    # -- snapshots ------------------------------------------------------------------

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
