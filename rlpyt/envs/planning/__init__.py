"""Planning environments: puzzles with clone/restore for planners (gymnasium API).

Importing this package registers their gymnasium ids, so
``rlpyt.envs.gym.gym_make(id="rlpyt/Hanoi-v0", n_disks=5)`` works (``gym_make``
imports it for ids starting with ``rlpyt/``):

==========================  ====================================  =====================
id                          env                                   episode limit
==========================  ====================================  =====================
``rlpyt/Hanoi-v0``          :class:`~.hanoi.Hanoi`                1000 steps (TimeLimit)
``rlpyt/ToyMR-v0``          :class:`~.toy_mr.ToyMR`               600 steps (TimeLimit)
``rlpyt/BitFlipper-v0``     :class:`~.bit_flipper.BitFlipper`     ``max_steps`` (n_bits)
``rlpyt/Sokoban-v0``        :class:`~.sokoban.Sokoban`            ``max_steps`` (120)
==========================  ====================================  =====================

The limits of Hanoi and ToyMR are those of the Trust-but-Verify experiments;
BitFlipper's and Sokoban's are part of the env (they depend on its settings).
See :mod:`rlpyt.envs.planning.base` for what every planning env provides.

Compared with the envs of Alpacka / Trust-but-Verify (whose defects are fixed here):
``info["solved"]`` is reported at every step, not only on the solving one (a fixed-schema
``env_info`` could not hold it); observation spaces match the observations (float32; the
originals declared uint8 and returned float64 or int64); Hanoi validates ``n_disks`` (the
original's default ``None`` crashed); ToyMR's maps are package data (the original read them
relative to the working directory) and ``restore_state`` does no rendering work. BitFlipper is
goal-conditioned (HER's), as issue 17 asks; TBV's was a fixed-goal counting puzzle.
"""

import gymnasium

from rlpyt.envs.planning.base import PlanningEnv
from rlpyt.envs.planning.bit_flipper import BitFlipper
from rlpyt.envs.planning.hanoi import Hanoi
from rlpyt.envs.planning.sokoban import Sokoban, generate_room
from rlpyt.envs.planning.toy_mr import ToyMR

__all__ = ["PlanningEnv", "Hanoi", "ToyMR", "BitFlipper", "Sokoban", "generate_room", "ENV_IDS"]

ENV_IDS = {
    "rlpyt/Hanoi-v0": (Hanoi, 1000),
    "rlpyt/ToyMR-v0": (ToyMR, 600),
    "rlpyt/BitFlipper-v0": (BitFlipper, None),
    "rlpyt/Sokoban-v0": (Sokoban, None),
}
"""Gymnasium id -> (env class, max_episode_steps of the registration)."""

for _id, (_cls, _limit) in ENV_IDS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(
            id=_id,
            entry_point=f"{_cls.__module__}:{_cls.__name__}",
            max_episode_steps=_limit,
        )
