"""The replay buffer core: storage + observation store + sampleable units + strategy.

A replay buffer is composed of

* a :class:`~rlpyt.replays.storage.ReplayStorage` (per-step arrays ``[T, B]``, the
  wrapping cursor, sparse final observations, stored RNN states);
* an observation store: every observation in full
  (:class:`~rlpyt.replays.storage.ArrayObservations`) or Atari frames stored once
  (:class:`~rlpyt.replays.frame.FrameObservations`);
* :class:`~rlpyt.replays.units.SampleableUnits`: which transitions / sequence
  starts may be drawn now;
* a sampling strategy (:class:`~rlpyt.replays.sampling.UniformStrategy` or
  :class:`~rlpyt.replays.sampling.PrioritizedStrategy`).

:class:`BaseReplayBuffer` wires them together and implements ``append_samples``,
the priority hooks, ``state_dict`` / ``load_state_dict`` and ``nbytes``; the
transition and sequence buffers (the extraction) add ``sample_batch``. Arrays are
allocated at the first append (or load): a buffer's size (``nbytes``) is known before.

The public buffers with the original rlpyt names are declarations, not code: a
subclass of the transition or sequence buffer that sets two class attributes,

.. code-block:: python

    class PrioritizedReplayFrameBuffer(NStepReturnBuffer):
        strategy_class = PrioritizedStrategy  # sampling strategy built at construction
        frames = True  # observation store: each Atari frame once

and takes the extraction's keywords plus, when prioritized, those of
:class:`~rlpyt.replays.sampling.Prioritization` (``alpha``, ``beta``, ...).
"""

import numpy as np

from rlpyt.replays.frame import FrameObservations
from rlpyt.replays.sampling import Prioritization, UniformStrategy
from rlpyt.replays.storage import ArrayObservations, ReplayStorage, write_chunks
from rlpyt.replays.units import SampleableUnits
from rlpyt.utils.buffer import numpify_buffer
from rlpyt.utils.validation import require_in_range, require_int_at_least

__all__ = ["BaseReplayBuffer"]


class BaseReplayBuffer:
    """Shared core of the replay buffers (see the module docstring).

    Args:
        example: one ``SamplesToBuffer*`` entry (no leading dims).
        size: transitions held; rounded up to a multiple of ``B`` (and of
            ``B * interval`` for sequence buffers).
        B: envs per appended batch.
        discount, n_step_return: of the n-step returns.
        seed: seeds the buffer's own sampling generator.
        strategy: a sampling strategy instance; default: ``strategy_class(**prioritization)``.
        frames: store Atari frames once (observations ``[n_frames, H, W]``);
            default: the class's ``frames``.
        prioritization: keywords of a prioritized ``strategy_class``
            (:class:`~rlpyt.replays.sampling.Prioritization`).
        interval: slots per unit (sequence start spacing; 1 for transitions).
        L: slots a unit reads from its start (see :mod:`rlpyt.replays.units`).
        train_offset, train_length: the unit's trained slots (padding check).
    """

    unit_name = "transitions"
    #: The sampling strategy built when no ``strategy`` instance is given.
    strategy_class: type = UniformStrategy
    #: The observation store: each Atari frame once (True) or whole observations.
    frames: bool = False

    def __init__(
        self,
        *,
        example,
        size: int,
        B: int,
        discount: float,
        n_step_return: int,
        seed: int | None,
        strategy=None,
        frames: bool | None = None,
        prioritization: Prioritization | None = None,
        interval: int,
        L: int,
        train_offset: int = 0,
        train_length: int = 1,
    ):
        size = require_int_at_least("size", size, 1)
        B = require_int_at_least("B", B, 1)
        require_in_range("discount", discount, 0, 1)
        n_step_return = require_int_at_least("n_step_return", n_step_return, 1)
        strategy = self._compose_strategy(strategy, dict(prioritization or {}))
        self.example = example
        self.B = int(B)
        self.discount = float(discount)
        self.n_step_return = int(n_step_return)
        self.frames = type(self).frames if frames is None else bool(frames)
        self.interval = int(interval)
        rows = -(-int(size) // (self.B * self.interval))
        self.T = rows * self.interval
        self.size = self.T * self.B
        if self.frames:
            self.observations = FrameObservations(
                example_observation=example.observation, T=self.T, B=self.B
            )
            history = self.observations.h
        else:
            self.observations = ArrayObservations(
                example_observation=example.observation, T=self.T, B=self.B
            )
            history = 0
        # One slot of history at least: prev_action / prev_reward read the previous step.
        back = max(1, history)
        if self.T < back + L + self.interval:
            raise ValueError(
                f"replay size {size} gives T={self.T} slots per env (B={self.B}), too few for "
                f"windows of {back} history + {L} steps: raise size to at least "
                f"{(back + L + self.interval) * self.B}"
            )
        self.storage = ReplayStorage(
            example=example, T=self.T, B=self.B, rnn_state_interval=interval
        )
        self.units = SampleableUnits(
            T=self.T,
            B=self.B,
            interval=self.interval,
            back=back,
            L=L,
            train_offset=train_offset,
            train_length=train_length,
        )
        self.rng = np.random.default_rng(seed)
        self.strategy = strategy
        self.strategy.initialize(rows=self.units.rows, B=self.B, rng=self.rng)
        self._allocated = False

    def _compose_strategy(self, strategy, prioritization: dict):
        """The given ``strategy``, or the class's ``strategy_class`` built from the
        prioritization keywords; a keyword the buffer cannot use is a TypeError."""
        name = type(self).__name__
        unknown = sorted(set(prioritization) - set(Prioritization.__annotations__))
        if unknown:
            raise TypeError(f"{name}() got an unexpected keyword argument {unknown[0]!r}")
        if strategy is not None:
            if prioritization:
                raise TypeError(
                    f"{name}: give a strategy instance or the prioritization keywords "
                    f"{sorted(prioritization)}, not both"
                )
            return strategy
        if prioritization and not self.strategy_class.prioritized:
            use = (
                name.replace("Uniform", "Prioritized", 1)
                if name.startswith("Uniform")
                else "strategy=PrioritizedStrategy(...)"
            )
            raise TypeError(
                f"{name} samples uniformly, so it takes no {', '.join(sorted(prioritization))}: "
                f"for prioritized sampling use {use}"
            )
        return self.strategy_class(**prioritization)

    # -- size ---------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Bytes of all arrays (known before they are allocated), plus stored final observations."""
        n = self.storage.planned_nbytes + self.observations.planned_nbytes
        n += self.units.planned_nbytes + self.strategy.planned_nbytes(self.units.rows * self.B)
        for final in self.storage.final_observation.values():
            n += sum(np.asarray(x).nbytes for x in (final if isinstance(final, tuple) else [final]))
        return n

    @property
    def n_sampleable(self) -> int:
        """Units (transitions or sequences) a batch may draw now."""
        return self.units.n_ok

    def _allocate(self) -> None:
        if not self._allocated:
            self.storage.allocate()
            self.observations.allocate()
            self.units.allocate()
            self.strategy.allocate()
            self._allocated = True

    # -- appending ------------------------------------------------------------------

    def append_samples(self, samples, valid=None, priorities=None) -> np.ndarray:
        """Store a ``[T, B]`` batch; returns the ``T`` slots written.

        Args:
            samples: a ``SamplesToBuffer*`` of numpy arrays or torch tensors ``[T, B, ...]``.
            valid: bool ``[T, B]``; False marks wait-reset padding (stored, never
                sampled). Default: all valid.
            priorities: with ``input_priorities=True``: priorities of the new units,
                ``[T, B]`` (transitions) or ``[T // interval, B]`` (sequence starts).
        """
        samples = numpify_buffer(samples)
        n = self._check_samples(samples)
        if valid is None:
            valid = np.ones((n, self.B), dtype=bool)
        else:
            valid = np.asarray(numpify_buffer(valid)).astype(bool, copy=False)
            if valid.shape != (n, self.B):
                raise ValueError(f"valid has shape {valid.shape}, expected ({n}, {self.B})")
        t0 = self.storage.t
        rows = self.storage.new_unit_rows(t0, n, self.interval)
        priorities = self.strategy.check_input_priorities(priorities, len(rows))
        # All checks passed: from here on the append cannot fail half-way.
        self._allocate()
        chunks = write_chunks(t0, n, self.T)
        first_append = self.storage.n_appended == 0
        self.storage.write(samples, valid, chunks)
        self.observations.write(samples.observation, chunks, first_append)
        new_units = (rows[:, None] * self.B + np.arange(self.B)).reshape(-1)
        self.strategy.add_units(new_units, priorities)
        refreshed = self.units.refresh(self.storage, t0, n)
        self.strategy.set_sampleable(refreshed, self.units.ok[refreshed])
        return (t0 + np.arange(n)) % self.T

    def _check_samples(self, samples) -> int:
        """Steps in ``samples``, after checking every field is ``[n, B] + example shape``."""
        # A namedtuple's field names (None for anything else).
        fields = getattr(samples, "_fields", None)
        if fields != self.example._fields:
            raise TypeError(
                f"append_samples needs {type(self.example).__name__}{self.example._fields}, "
                f"got {type(samples).__name__}{fields}"
            )
        n = np.shape(samples.reward)[0] if np.ndim(samples.reward) else 0
        if n > self.T:
            raise ValueError(
                f"append_samples got {n} steps, more than the replay's T={self.T} slots per "
                "env: raise size or append smaller batches"
            )
        _check_shapes(samples, self.example, (n, self.B), type(samples).__name__)
        return n

    # -- priorities (prioritized buffers) --------------------------------------------

    def set_beta(self, beta: float) -> None:
        """Importance-weight exponent; the algorithm sets it each iteration from its schedule."""
        self.strategy.set_beta(beta)

    def update_batch_priorities(self, priorities) -> None:
        """Priorities ``[batch_B]`` (e.g. ``abs(TD error)``) of the last ``sample_batch``."""
        self.strategy.update_batch_priorities(priorities)

    # -- sampling helpers -----------------------------------------------------------

    def _draw_units(self, batch_B: int):
        """``(rows, B_idxs, is_weights or None)`` of ``batch_B`` sampleable units."""
        batch_B = require_int_at_least("batch_B", batch_B, 1)
        n_ok = self.units.n_ok
        if n_ok < batch_B:
            raise ValueError(
                f"replay holds {n_ok} valid {self.unit_name}, need >= {batch_B}: append "
                "more samples before sampling (min_steps_learn)"
            )
        idxs, is_weights = self.strategy.sample(batch_B, self.units, self.storage)
        rows, B_idxs = np.divmod(idxs, self.B)
        return rows, B_idxs, is_weights

    def _final_observation(self, last_t: np.ndarray, B_idxs: np.ndarray, where: np.ndarray):
        """Stored final observations of the cut steps ``(last_t, B_idxs)[where]`` (a list)."""
        store = self.storage.final_observation
        return [store[int(t) * self.B + int(b)] for t, b in zip(last_t[where], B_idxs[where])]

    # -- saving -------------------------------------------------------------------------

    def _config(self) -> dict:
        return dict(
            cls=type(self).__name__,
            T=self.T,
            B=self.B,
            interval=self.interval,
            frames=self.frames,
            n_step_return=self.n_step_return,
            discount=self.discount,
            back=self.units.back,
            L=self.units.L,
        )

    def state_dict(self) -> dict:
        """Everything to resume sampling exactly. Holds the live arrays (no copy):
        save it before the next append."""
        self._allocate()
        return dict(
            config=self._config(),
            storage=self.storage.state_dict(),
            observations=self.observations.state_dict(),
            units=self.units.state_dict(),
            strategy=self.strategy.state_dict(),
            rng=self.rng.bit_generator.state,
        )

    def load_state_dict(self, state: dict) -> None:
        mine, saved = self._config(), state["config"]
        diff = [
            f"{k}: saved {saved.get(k)!r}, here {v!r}" for k, v in mine.items() if saved.get(k) != v
        ]
        if diff:
            raise ValueError("replay load_state_dict: incompatible buffer: " + "; ".join(diff))
        self._allocate()
        self.storage.load_state_dict(state["storage"])
        self.observations.load_state_dict(state["observations"])
        self.units.load_state_dict(state["units"])
        self.strategy.load_state_dict(state["strategy"])
        self.rng.bit_generator.state = state["rng"]


def _check_shapes(samples, example, lead: tuple[int, int], path: str) -> None:
    """Every leaf of ``samples`` is ``lead + example leaf shape`` (no silent broadcast)."""
    if example is None:
        return
    if isinstance(example, tuple):
        # Field names of a namedtuple (a plain tuple has none).
        names = getattr(example, "_fields", range(len(example)))
        for name, s, e in zip(names, samples, example):
            _check_shapes(s, e, lead, f"{path}.{name}")
        return
    expected = lead + np.shape(example)
    if np.shape(samples) != expected:
        raise ValueError(
            f"append_samples: {path} has shape {np.shape(samples)}, expected {expected} "
            f"([T, B] = {list(lead)} + the example's {np.shape(example)})"
        )
