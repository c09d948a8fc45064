"""Toy Montezuma's Revenge: rooms on a text map with keys, doors, traps and a goal.

A map file draws the whole world as one character grid cut into rooms of
``room H W`` cells (the first non-comment line); a block of only spaces is no
room. Lines starting with ``;`` are comments. Characters:

* ``#`` wall (a space is outside any room);
* ``.`` floor;
* ``A`` the agent's start (exactly one);
* ``K`` a key: stepping on it takes it;
* ``D`` a door: the agent passes only by spending a key, which opens it for good;
* ``T`` a trap: stepping on it ends the episode, unsolved;
* ``G`` the goal: stepping on it ends the episode, solved.

Rooms connect through gaps in their walls: moving between rooms is moving on
the grid. Maps ship in ``rlpyt/envs/planning/maps/``: ``small`` (4 rooms) and
``full`` (24 rooms); ``map_name`` also takes the path of any other map file.
"""

from importlib import resources
from pathlib import Path

import numpy as np
from gymnasium import spaces

from rlpyt.envs.planning.base import PlanningEnv, one_hot

__all__ = ["ToyMR", "ToyMRMap", "load_map", "MAPS"]

MAPS = ("small", "full")
MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right
_CHARS = set("#.AKDTG ")


class ToyMRMap:
    """A parsed map: the grid, room size, and the positions of keys, doors, traps, goals."""

    def __init__(self, text: str, name: str = "<map>"):
        lines = [line.rstrip("\n") for line in text.splitlines()]
        lines = [line for line in lines if not line.startswith(";")]
        while lines and not lines[0].strip():
            lines.pop(0)
        header = lines[0].split() if lines else []
        if len(header) != 3 or header[0] != "room" or not all(h.isdigit() for h in header[1:]):
            raise ValueError(f"ToyMR map {name}: the first line must be 'room H W'")
        self.room_h, self.room_w = int(header[1]), int(header[2])
        rows = [line.rstrip() for line in lines[1:]]
        while rows and not rows[-1]:
            rows.pop()
        n_rooms_down = -(-len(rows) // self.room_h)
        n_rooms_across = -(-max(map(len, rows)) // self.room_w)
        height, width = n_rooms_down * self.room_h, n_rooms_across * self.room_w
        self.grid = [row.ljust(width) for row in rows] + [" " * width] * (height - len(rows))
        bad = {c for row in self.grid for c in row} - _CHARS
        if bad:
            raise ValueError(f"ToyMR map {name}: unknown characters {sorted(bad)}")
        found = {c: [] for c in "AKDTG"}
        for r, row in enumerate(self.grid):
            for c, ch in enumerate(row):
                if ch in found:
                    found[ch].append((r, c))
        if len(found["A"]) != 1 or not found["G"]:
            raise ValueError(f"ToyMR map {name}: needs exactly one 'A' and at least one 'G'")
        self.start = found["A"][0]
        self.keys, self.doors = found["K"], found["D"]
        self.key_index = {p: i for i, p in enumerate(self.keys)}
        self.door_index = {p: i for i, p in enumerate(self.doors)}
        self.traps, self.goals = set(found["T"]), set(found["G"])
        # Rooms: blocks with anything but spaces, numbered in reading order.
        self.room_index = {}
        for i in range(n_rooms_down):
            for j in range(n_rooms_across):
                block = [
                    row[j * self.room_w : (j + 1) * self.room_w]
                    for row in self.grid[i * self.room_h : (i + 1) * self.room_h]
                ]
                if any(b.strip() for b in block):
                    self.room_index[(i, j)] = len(self.room_index)
        self.height, self.width = height, width

    @property
    def n_rooms(self) -> int:
        return len(self.room_index)

    def passable(self, r: int, c: int) -> bool:
        return 0 <= r < self.height and 0 <= c < self.width and self.grid[r][c] not in "# "


def load_map(name_or_path: str) -> ToyMRMap:
    """A shipped map by name (``"small"``, ``"full"``) or a map file by path."""
    if name_or_path in MAPS:
        text = resources.files("rlpyt.envs.planning").joinpath(f"maps/toy_mr_{name_or_path}.txt")
        return ToyMRMap(text.read_text(), name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(f"ToyMR: map {name_or_path!r} is neither a shipped map {MAPS} nor a file")
    return ToyMRMap(path.read_text(), str(path))


class ToyMR(PlanningEnv):
    """Toy Montezuma's Revenge (see the module docstring for the maps).

    Actions: up, down, left, right. The state is the agent's cell, the keys
    taken and the doors opened (keys held = taken - opened). The observation
    concatenates one-hot encodings of the room, the row and column in the room,
    the number of keys held, then one flag per key taken and per door opened
    (without the flags the observation would not tell a taken key's room from
    an untaken one's). Rewards: ``reward_for_solved`` on a goal,
    ``reward_for_key`` for each key taken, 0 otherwise.

    Args:
        map_name: a shipped map (``"small"``, ``"full"``) or a map file path.
        reward_for_solved: reward of reaching a goal.
        reward_for_key: reward of taking a key.
    """

    def __init__(
        self,
        *,
        map_name: str = "small",
        reward_for_solved: float = 1.0,
        reward_for_key: float = 0.0,
        render_mode: str | None = None,
    ):
        self._check_render_mode(render_mode)
        self.map = load_map(map_name)
        self.reward_for_solved = float(reward_for_solved)
        self.reward_for_key = float(reward_for_key)
        m = self.map
        self._n_keys, self._n_doors = len(m.keys), len(m.doors)
        size = m.n_rooms + m.room_h + m.room_w + (self._n_keys + 1) + self._n_keys + self._n_doors
        self.action_space = spaces.Discrete(len(MOVES))
        self.observation_space = spaces.Box(0.0, 1.0, (size,), dtype=np.float32)
        self._state = (*m.start, 0, 0)  # row, column, keys-taken mask, doors-opened mask

    def reset(self, *, seed=None, options=None):
        """Start an episode: ``(observation, {"solved": False})``."""
        super().reset(seed=seed)
        self._state = (*self.map.start, 0, 0)
        return self._observation(), {"solved": False}

    def step(self, action):
        """``(observation, reward, terminated, truncated, {"solved": bool})``."""
        self._state, reward, terminated, solved = self.transition(self._state, int(action))
        return self._observation(), reward, terminated, False, {"solved": solved}

    def transition(self, state, action: int):
        """``(next_state, reward, terminated, solved)``: the dynamics as a pure function."""
        r, c, taken, opened = state
        dr, dc = MOVES[action]
        nr, nc = r + dr, c + dc
        m = self.map
        if not m.passable(nr, nc):
            return state, 0.0, False, False
        reward = 0.0
        door = m.door_index.get((nr, nc))
        if door is not None and not opened >> door & 1:
            if taken.bit_count() - opened.bit_count() == 0:
                return state, 0.0, False, False  # locked: no key to spend
            opened |= 1 << door
        key = m.key_index.get((nr, nc))
        if key is not None and not taken >> key & 1:
            taken |= 1 << key
            reward += self.reward_for_key
        solved = (nr, nc) in m.goals
        if solved:
            reward += self.reward_for_solved
        terminated = solved or (nr, nc) in m.traps
        return (nr, nc, taken, opened), reward, terminated, solved

    def _observation(self) -> np.ndarray:
        m = self.map
        r, c, taken, opened = self._state
        held = taken.bit_count() - opened.bit_count()
        return np.concatenate(
            [
                one_hot(m.room_index[(r // m.room_h, c // m.room_w)], m.n_rooms),
                one_hot(r % m.room_h, m.room_h),
                one_hot(c % m.room_w, m.room_w),
                one_hot(held, self._n_keys + 1),
                _bits(taken, self._n_keys),
                _bits(opened, self._n_doors),
            ]
        )

    def clone_state(self) -> tuple[int, int, int, int]:
        """``(row, column, keys_taken_mask, doors_opened_mask)`` on the whole map's grid."""
        return self._state

    def restore_state(self, state) -> None:
        self._state = tuple(int(x) for x in state)

    @property
    def room(self) -> int:
        """Index of the agent's room."""
        r, c = self._state[:2]
        return self.map.room_index[(r // self.map.room_h, c // self.map.room_w)]

    def render(self) -> str:
        r, c, taken, opened = self._state
        m = self.map
        rows = [list(row) for row in m.grid]
        for i, (kr, kc) in enumerate(m.keys):
            if taken >> i & 1:
                rows[kr][kc] = "."
        for i, (dr, dc) in enumerate(m.doors):
            if opened >> i & 1:
                rows[dr][dc] = "."
        rows[m.start[0]][m.start[1]] = "." if (r, c) != m.start else "A"
        rows[r][c] = "@"
        return "\n".join("".join(row) for row in rows)


def _bits(mask: int, n: int) -> np.ndarray:
    return np.array([(mask >> i) & 1 for i in range(n)], dtype=np.float32)
