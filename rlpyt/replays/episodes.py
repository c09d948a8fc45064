"""A replay of whole episodes, with the training targets of each step and stratified sampling.

The planning agents train from the episodes their searches played
(:class:`~rlpyt.algos.planning.SupervisedFromSearch`). :class:`EpisodeReplay` keeps the
latest finished :class:`~rlpyt.samplers.episodes.base.Episode` records, up to ``capacity``
transitions, and computes the targets of every step once, when its episode is added
(:func:`episode_targets`): the discounted return to the episode's end, the n-step return
and its bootstrap point. The network's value at that point (the TD target) is the
algorithm's business, since it changes with every update.

**Stratified sampling.** Planning runs are lopsided: early on almost no episode is solved,
later almost all are. With ``hierarchy=("solved",)`` (the default, as Alpacka's
``replay_buffer_sampling_hierarchy``) each batch is split in equal shares between the
strata present -- solved and unsolved episodes -- so the rare kind is not drowned. The
split is exact, not drawn: ``n`` samples over ``k`` strata give each ``n // k``, and the
``n % k`` left over go to as many distinct strata chosen at random. Within a stratum,
transitions are drawn uniformly (with replacement) over all its transitions, so a long
episode contributes in proportion to its length. Several names nest: ``("solved",
"env_rank")`` splits each solved-ness stratum equally among the envs present in it.
``hierarchy=()`` draws uniformly over all transitions.
"""

import copy
import dataclasses
from collections import deque

import numpy as np

from rlpyt.replays.collections import EpisodeSamples
from rlpyt.samplers.episodes.base import Episode
from rlpyt.utils.buffer import torchify_buffer
from rlpyt.utils.collections import is_namedtuple
from rlpyt.utils.validation import require_in_range, require_int_at_least

__all__ = ["EpisodeReplay", "EpisodeTargets", "check_hierarchy", "episode_targets"]

# Fields that describe a whole episode and can name a stratum (the arrays cannot).
STRATUM_FIELDS = ("solved", "terminated", "env_rank")


@dataclasses.dataclass
class EpisodeTargets:
    """The targets of the ``T`` steps of one episode (float32 ``[T]`` unless said)."""

    discounted_return: np.ndarray
    n_step_return: np.ndarray
    bootstrap_discount: np.ndarray
    bootstrap_index: np.ndarray  # int64: the row of ``observation`` to bootstrap from (t + m)


def episode_targets(
    reward: np.ndarray, terminated: bool, discount: float, n_step: int
) -> EpisodeTargets:
    """The value targets of an episode with rewards ``reward`` ``[T]``.

    ``discounted_return[t] = sum_{k < T - t} discount^k reward[t + k]``: what is left of
    the episode's return. For an episode a time limit cut (``terminated=False``) this is a
    truncated return -- it counts nothing after the cut -- which is the target Alpacka's
    ``target_discounted_return`` trains on; the n-step target below bootstraps instead.

    ``n_step_return[t] = sum_{k < m} discount^k reward[t + k]`` with ``m = min(n_step, T -
    t)``, ``bootstrap_index[t] = t + m`` and ``bootstrap_discount[t] = discount^m``, except 0
    where the window reaches the end (``t + m = T``) of a *terminated* episode: nothing
    follows a terminal state, while a time-limit cut is not one and bootstraps from the
    observation after the last step.
    """
    reward = np.asarray(reward, dtype=np.float64)
    T = len(reward)
    returns = np.zeros(T + 1)  # returns[T] = 0: nothing after the last step
    for t in range(T - 1, -1, -1):
        returns[t] = reward[t] + discount * returns[t + 1]
    t = np.arange(T)
    end = np.minimum(t + n_step, T)
    m = end - t
    powers = np.float64(discount) ** m
    # sum_{k<m} discount^k r[t+k] = G_t - discount^m G_{t+m}, computed in float64.
    n_step_return = returns[:T] - powers * returns[end]
    bootstrap_discount = np.where((end == T) & bool(terminated), 0.0, powers)
    return EpisodeTargets(
        discounted_return=returns[:T].astype(np.float32),
        n_step_return=n_step_return.astype(np.float32),
        bootstrap_discount=bootstrap_discount.astype(np.float32),
        bootstrap_index=end.astype(np.int64),
    )


def check_hierarchy(hierarchy) -> tuple:
    """``hierarchy`` as a tuple of stratum fields (a single name is taken as one level);
    a ``ValueError`` naming those that cannot name a stratum."""
    if isinstance(hierarchy, str):
        hierarchy = (hierarchy,)
    hierarchy = tuple(hierarchy)
    unknown = [name for name in hierarchy if name not in STRATUM_FIELDS]
    if unknown:
        raise ValueError(
            f"EpisodeReplay hierarchy {hierarchy}: {unknown} cannot name a stratum; use "
            f"episode fields among {STRATUM_FIELDS}, or () for uniform sampling"
        )
    return hierarchy


def _concat(parts):
    """Concatenate arrays, or namedtuples of arrays field by field (agent infos)."""
    first = parts[0]
    if first is None:
        return None
    if is_namedtuple(first):
        return type(first)(*(_concat([getattr(p, f) for p in parts]) for f in first._fields))
    return np.concatenate([np.asarray(p) for p in parts])


class EpisodeReplay:
    """The latest finished episodes, up to ``capacity`` transitions; stratified batches.

    Args:
        capacity: transitions held. When an episode is added, the oldest episodes are
            dropped while more than ``capacity`` transitions are held -- but the newest
            episode is always kept whole, even alone longer than ``capacity``.
        discount: gamma of the returns (see :func:`episode_targets`).
        n_step: n of the n-step returns (the algorithm's TD target).
        hierarchy: :class:`~rlpyt.samplers.episodes.base.Episode` fields whose values split
            a batch into equal shares, outermost first (see the module docstring); any of
            ``"solved"``, ``"terminated"``, ``"env_rank"``. ``()``: uniform over transitions.
        seed: of the sampling generator (its state is in :meth:`state_dict`).

    :meth:`sample_batch` returns an :class:`~rlpyt.replays.collections.EpisodeSamples` of
    ``[N]`` torch tensors.
    """

    def __init__(
        self,
        *,
        capacity: int,
        discount: float = 1.0,
        n_step: int = 1,
        hierarchy: tuple = ("solved",),
        seed: int | None = None,
    ):
        self.capacity = require_int_at_least("capacity", capacity, 1)
        require_in_range("discount", discount, 0.0, 1.0)
        self.discount = float(discount)
        self.n_step = require_int_at_least("n_step", n_step, 1)
        hierarchy = check_hierarchy(hierarchy)
        self.hierarchy = hierarchy
        self.rng = np.random.default_rng(seed)
        self._episodes = deque()  # (Episode, EpisodeTargets), oldest first
        self._n_transitions = 0
        self._flat = None  # the concatenated content, rebuilt after a change

    # -- content ----------------------------------------------------------------

    def __len__(self) -> int:
        """Transitions held."""
        return self._n_transitions

    @property
    def n_episodes(self) -> int:
        return len(self._episodes)

    @property
    def episodes(self) -> list:
        """The episodes held, oldest first."""
        return [episode for episode, _ in self._episodes]

    def add_episode(self, episode: Episode) -> None:
        """Add a finished episode (its targets computed now), then drop the oldest beyond
        ``capacity``. An episode without steps holds nothing to train on and is ignored."""
        T = len(episode)
        if T == 0:
            return
        n_obs = len(episode.observation)
        if n_obs != T + 1 or len(episode.reward) != T:
            raise ValueError(
                f"EpisodeReplay.add_episode: an episode of {T} actions needs {T + 1} "
                f"observations and {T} rewards, got {n_obs} and {len(episode.reward)}"
            )
        targets = episode_targets(episode.reward, episode.terminated, self.discount, self.n_step)
        self._episodes.append((episode, targets))
        self._n_transitions += T
        while self._n_transitions > self.capacity and len(self._episodes) > 1:
            old, _ = self._episodes.popleft()
            self._n_transitions -= len(old)
        self._flat = None

    def add_episodes(self, episodes) -> None:
        for episode in episodes:
            self.add_episode(episode)

    def stratum_sizes(self) -> dict:
        """Transitions held per stratum: ``{(value, ...): count}`` in the hierarchy's order."""
        sizes = {}
        for episode, _ in self._episodes:
            key = self._key(episode)
            sizes[key] = sizes.get(key, 0) + len(episode)
        return dict(sorted(sizes.items()))

    def _key(self, episode) -> tuple:
        return tuple(getattr(episode, name) for name in self.hierarchy)

    # -- sampling -----------------------------------------------------------------

    def sample_batch(self, batch_size: int) -> EpisodeSamples:
        """``batch_size`` transitions, in equal shares per stratum (see the module docstring)."""
        batch_size = require_int_at_least("batch_size", batch_size, 1)
        if self._n_transitions == 0:
            raise RuntimeError("EpisodeReplay holds no transitions: add episodes before sampling")
        flat = self._flatten()
        index = np.concatenate(self._draw(flat["tree"], batch_size))
        return torchify_buffer(
            EpisodeSamples(
                observation=flat["observation"][flat["obs_row"][index]],
                action=flat["action"][index],
                discounted_return=flat["discounted_return"][index],
                solved=flat["solved"][index],
                n_step_return=flat["n_step_return"][index],
                bootstrap_discount=flat["bootstrap_discount"][index],
                bootstrap_observation=flat["observation"][flat["boot_row"][index]],
                agent_info=None if flat["agent_info"] is None else flat["agent_info"][index],
            )
        )

    def _draw(self, node, n: int) -> list:
        """Indices of ``n`` transitions from a stratum tree node (a leaf: an index array)."""
        if isinstance(node, np.ndarray):
            return [node[self.rng.integers(len(node), size=n)]]
        k = len(node)
        shares = np.full(k, n // k)
        shares[self.rng.choice(k, size=n % k, replace=False)] += 1
        draws = []
        for child, share in zip(node, shares, strict=True):
            if share:
                draws.extend(self._draw(child, int(share)))
        return draws

    def _flatten(self) -> dict:
        """All episodes concatenated, and the stratum tree of transition indices."""
        if self._flat is not None:
            return self._flat
        episodes = [episode for episode, _ in self._episodes]
        targets = [target for _, target in self._episodes]
        lengths = np.array([len(e) for e in episodes])
        first_transition = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        first_obs_row = first_transition + np.arange(len(episodes))  # T + 1 rows each
        obs_row = np.concatenate(
            [start + np.arange(T) for start, T in zip(first_obs_row, lengths, strict=True)]
        )
        boot_row = np.concatenate(
            [start + t.bootstrap_index for start, t in zip(first_obs_row, targets, strict=True)]
        )
        flat = dict(
            observation=np.concatenate([e.observation for e in episodes]),
            obs_row=obs_row,
            boot_row=boot_row,
            action=np.concatenate([e.action for e in episodes]),
            discounted_return=np.concatenate([t.discounted_return for t in targets]),
            solved=np.repeat(np.array([float(e.solved) for e in episodes], np.float32), lengths),
            n_step_return=np.concatenate([t.n_step_return for t in targets]),
            bootstrap_discount=np.concatenate([t.bootstrap_discount for t in targets]),
            agent_info=_concat([e.agent_info for e in episodes]),
        )
        keyed = [
            (self._key(e), start + np.arange(T))
            for e, start, T in zip(episodes, first_transition, lengths, strict=True)
        ]
        flat["tree"] = self._tree(keyed, level=0)
        self._flat = flat
        return flat

    def _tree(self, keyed, level: int):
        """The stratum tree: per hierarchy level, children sorted by value; leaves are the
        concatenated transition indices of their episodes."""
        if level == len(self.hierarchy):
            return np.concatenate([indices for _, indices in keyed])
        groups = {}
        for key, indices in keyed:
            groups.setdefault(key[level], []).append((key, indices))
        return [self._tree(groups[value], level + 1) for value in sorted(groups)]

    # -- saving and resuming --------------------------------------------------------

    def _config(self) -> dict:
        return dict(
            capacity=self.capacity,
            discount=self.discount,
            n_step=self.n_step,
            hierarchy=self.hierarchy,
        )

    def state_dict(self) -> dict:
        """The whole content and the generator: a resumed run samples the same batches."""
        return dict(
            config=self._config(),
            episodes=[copy.copy(episode) for episode, _ in self._episodes],
            rng=copy.deepcopy(self.rng.bit_generator.state),
        )

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (targets are recomputed from the episodes)."""
        mine, saved = self._config(), state["config"]
        diff = [
            f"{k}: saved {saved.get(k)!r}, here {v!r}" for k, v in mine.items() if saved.get(k) != v
        ]
        if diff:
            raise ValueError(
                "EpisodeReplay.load_state_dict: incompatible replay: " + "; ".join(diff)
            )
        self._episodes = deque(
            (
                episode,
                episode_targets(episode.reward, episode.terminated, self.discount, self.n_step),
            )
            for episode in state["episodes"]
        )
        self._n_transitions = sum(len(episode) for episode, _ in self._episodes)
        self._flat = None
        self.rng.bit_generator.state = state["rng"]
