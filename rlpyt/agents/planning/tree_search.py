"""Pieces the tree-search planners share: argument checks, tie breaking, random rollouts."""

import math

import numpy as np

from rlpyt.envs.model import PerfectModel
from rlpyt.models.planning import PlanningMlpModel

__all__ = [
    "check_choice",
    "check_int",
    "check_number",
    "require_heads",
    "argmax_random_tie",
    "random_rollout_return",
    "SearchCounters",
]


def check_choice(owner: str, name: str, value, choices) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming both."""
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {list(choices)}, got {value!r}")
    return value


def check_int(owner: str, name: str, value, minimum: int) -> int:
    """``value`` as an int if it is an integer >= ``minimum``, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_number(owner: str, name: str, value, low: float, high: float = math.inf) -> float:
    """``value`` as a float if it is a finite number in ``[low, high]``, else a ValueError."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not low <= float(value) <= high
    ):
        raise ValueError(f"{owner}: {name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def require_heads(agent, model, heads, why: str) -> None:
    """A ValueError unless ``model`` (a PlanningMlpModel; other models are trusted) has
    ``heads``."""
    if isinstance(model, PlanningMlpModel):
        missing = [h for h in heads if h not in model.heads]
        if missing:
            raise ValueError(
                f"{type(agent).__name__}: {why} needs the network's {missing} head(s); it has "
                f"{model.heads}: add them to model_kwargs['heads']"
            )


def argmax_random_tie(values, rng: np.random.Generator) -> int:
    """The index of the largest of ``values``; exact ties broken uniformly by ``rng``.

    Ignores NaN unless all are NaN (then a uniform pick). ``values``: an array or a
    sequence of numbers. Runs in plain Python: it is called once per node of a search
    path with a few values, where numpy's per-call overhead dominated.
    """
    if isinstance(values, np.ndarray):
        values = values.astype(np.float64, copy=False).tolist()
    numbers = [v for v in values if v == v]
    if numbers:
        best = max(numbers)
        candidates = [i for i, v in enumerate(values) if v == best]
    else:
        candidates = list(range(len(values)))
    if len(candidates) == 1:
        return candidates[0]
    return candidates[int(rng.integers(len(candidates)))]


def random_rollout_return(
    model: PerfectModel,
    rng: np.random.Generator,
    n_actions: int,
    time_limit: int,
    discount: float,
) -> tuple[float, int]:
    """Play uniform random actions on ``model`` from its current state.

    Stops after ``time_limit`` steps or at the end of the episode (termination or the
    env's time limit). Returns ``(sum_t discount**t * r_t, number of model steps)``:
    the truncated return, no bootstrap beyond the last step.
    """
    total, scale = 0.0, 1.0
    for t in range(time_limit):
        step = model.step(int(rng.integers(n_actions)))
        total += scale * float(step.reward)
        scale *= discount
        if step.done:
            return total, t + 1
    return total, time_limit


class SearchCounters:
    """The per-real-step metrics of one search (``SearchResult.metrics``)."""

    def __init__(self):
        self.n_passes = 0
        self.depth = 0  # the largest number of actions on a pass's path from the root
        self.nodes_expanded = 0
        self.model_steps = 0

    def metrics(self, tree_size: int, root_value: float) -> dict:
        return dict(
            n_passes=float(self.n_passes),
            tree_size=float(tree_size),
            depth=float(self.depth),
            nodes_expanded=float(self.nodes_expanded),
            model_steps=float(self.model_steps),
            root_value=float(root_value),
        )
