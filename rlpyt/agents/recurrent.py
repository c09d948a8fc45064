"""Recurrent-state bookkeeping for agents whose model carries an RNN state between steps.

State layout: an :data:`~rlpyt.models.utils.RnnState` (or any namedtuple/tuple
of tensors) whose tensors are ``[B, N, H]`` -- batch first, so the state of
env ``b`` is ``state[b]``. The agent's ``prev_rnn_state`` is ``None`` after a
reset and the model then starts from zeros.

Each mode keeps its own state: ``sample`` (the training sampler's envs,
carried across iterations, since their episodes go on), ``eval`` (fresh for
each evaluation, so evaluating never clobbers the sampler's state) and
``train`` (unused for acting: the algorithm passes ``init_rnn_state`` from the
samples explicitly).
"""

import torch

from rlpyt.utils.buffer import buffer_func, buffer_method

__all__ = ["RecurrentAgentMixin"]

_MODES = ("sample", "eval", "train")


def _zero_index_(state, idx):
    """Zero ``state[idx]`` in place in every tensor of a (nested) state tuple."""
    if state is None:
        return
    if isinstance(state, tuple | list):
        for s in state:
            _zero_index_(s, idx)
    else:
        state[idx] = 0


class RecurrentAgentMixin:
    """Mix in before an agent class: ``class MyAgent(RecurrentAgentMixin, MyAgentBase)``.

    Provides ``prev_rnn_state`` (the state of the current mode),
    ``advance_rnn_state(new)``, ``reset()``, ``reset_one(idx)`` and mode
    switching that keeps the sampling state while training and evaluating.
    """

    recurrent = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rnn_states = dict.fromkeys(_MODES)

    def _state_mode(self) -> str:
        # Before any mode is set (e.g. while building the samples buffer), act as sampling.
        return self._mode if self._mode in _MODES else "sample"

    @property
    def prev_rnn_state(self):
        """RNN state ``[B, N, H]`` to feed the next step (``None``: zeros)."""
        return self._rnn_states[self._state_mode()]

    def advance_rnn_state(self, new_rnn_state):
        """Make ``new_rnn_state`` (the model's output) the state for the next step."""
        self._rnn_states[self._state_mode()] = new_rnn_state

    def zeros_like_rnn_state(self, rnn_state):
        """An all-zero state shaped like ``rnn_state`` (what ``None`` stands for)."""
        return buffer_func(rnn_state, torch.zeros_like)

    def reset(self):
        """All envs start a new episode: the state goes back to zeros."""
        self._rnn_states[self._state_mode()] = None
        super().reset()

    def reset_one(self, idx):
        """Env ``idx`` starts a new episode: zero its state (``[B, N, H]``: along dim 0)."""
        _zero_index_(self._rnn_states[self._state_mode()], idx)
        super().reset_one(idx)

    def train_mode(self, itr: int):
        super().train_mode(itr)
        self._rnn_states["train"] = None

    def sample_mode(self, itr: int):
        # The sampling state is kept: the sampler's episodes continue across iterations.
        super().sample_mode(itr)

    def eval_mode(self, itr: int):
        super().eval_mode(itr)
        self._rnn_states["eval"] = None

    def sampling_state_dict(self) -> dict:
        """The sampling-mode RNN state, saved in snapshots so a resumed run continues it."""
        state = self._rnn_states["sample"]
        return {"sample": None if state is None else buffer_method(state, "clone")}

    def load_sampling_state_dict(self, state: dict) -> None:
        self._rnn_states["sample"] = state["sample"]
