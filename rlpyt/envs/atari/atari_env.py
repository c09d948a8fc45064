"""Atari 2600 games on ``ale_py.ALEInterface``, with the standard DQN preprocessing.

No gymnasium wrapper stack: one class drives the emulator and does the usual
preprocessing (Mnih et al. 2015; Machado et al. 2018) in preallocated buffers:

* each action is repeated ``frame_skip`` times and the raw rewards summed;
* a frame is the elementwise max of the grayscale screens after the last two of
  those emulator steps (Atari sprites flicker between frames), resized to
  ``frame_shape`` with ``cv2.INTER_AREA``;
* the observation stacks the last ``num_img_obs`` frames, oldest first.

Games are named by ale-py's ROM ids (``"pong"``, ``"breakout"``,
``"space_invaders"``; ``ale_py.roms.get_all_rom_ids()`` lists them all).
"""

import copy
import difflib
from collections import namedtuple

import ale_py
import cv2
import numpy as np
from ale_py import roms

from rlpyt.envs.base import Env, EnvStep
from rlpyt.samplers.collections import TrajInfo
from rlpyt.spaces.int_box import IntBox
from rlpyt.utils.collections import namedarraytuple
from rlpyt.utils.validation import require_int_at_least

__all__ = ["AtariEnv", "AtariState", "AtariTrajInfo", "EnvInfo"]

EnvInfo = namedarraytuple("EnvInfo", ["game_score", "traj_done", "timeout"])
"""Per-step info of :class:`AtariEnv`: ``game_score`` (float32, the unclipped
reward of the step), ``traj_done`` (bool, the game is over or the horizon was
reached) and ``timeout`` (bool, the horizon cut the game before it ended)."""

AtariState = namedtuple(
    "AtariState", ["emulator", "frames", "newest", "lives", "step_counter", "noop_rng"]
)
"""State of :class:`AtariEnv` from ``clone_state()`` (picklable; treat as opaque)."""

_NOOP = ale_py.Action.NOOP
_FIRE = ale_py.Action.FIRE
# np.sign of the step's score, indexed by (score > 0) - (score < 0): made once.
_CLIPPED = (np.float32(0.0), np.float32(1.0), np.float32(-1.0))


class AtariEnv(Env):
    """One Atari game with the standard DQN preprocessing (see the module docstring).

    Observations are uint8 arrays ``[num_img_obs, H, W]``, oldest frame first;
    after a reset the older frames are zeros. Actions are indexes into the
    game's minimal action set, ``IntBox(0, n_actions)``.

    ``step()`` returns ``EnvStep(observation, reward, done, env_info)`` with
    ``env_info = EnvInfo(game_score, traj_done, timeout)``:

    * ``reward`` is ``sign(game_score)`` when ``clip_reward``, else ``game_score``;
    * ``traj_done``: the game is over, or ``horizon`` steps were taken since the
      reset (then ``timeout`` is also true, so value targets bootstrap);
    * ``done = traj_done``, or, with ``episodic_lives``, a life was lost. A lost
      life does *not* need a reset: the env has already advanced past it
      (NOOP, then FIRE when ``fire_on_reset``), the older frames of the stack
      are cleared and the game continues. The collector calls ``reset()`` only
      when ``traj_done``, so ``done`` ends an episode for the value targets
      while the logged trajectory (:class:`AtariTrajInfo`) spans the game.

    Args:
        game: ale-py ROM id, e.g. ``"pong"``.
        frame_skip: emulator steps per ``step()`` (the action is repeated).
        num_img_obs: number of frames stacked in an observation.
        clip_reward: reward is the sign of the raw score (the score stays in
            ``env_info.game_score``).
        episodic_lives: a lost life sets ``done`` (the game goes on).
        fire_on_reset: press FIRE after a reset and after each lost life (games
            such as Breakout wait for it).
        max_start_noops: after a reset, a random number of NOOP steps in
            ``[0, max_start_noops]`` (drawn from the env's own generator).
        repeat_action_probability: ALE sticky actions (0 turns them off; 0.25 is
            the Machado et al. recommendation).
        horizon: the trajectory is cut (``timeout``) after this many steps.
        frame_shape: ``(H, W)`` of each frame after resizing.
        seed: seeds the emulator and the no-op draws (``None``: a random seed).
    """

    def __init__(
        self,
        *,
        game: str = "pong",
        frame_skip: int = 4,
        num_img_obs: int = 4,
        clip_reward: bool = True,
        episodic_lives: bool = True,
        fire_on_reset: bool = False,
        max_start_noops: int = 30,
        repeat_action_probability: float = 0.0,
        horizon: int = 27000,
        frame_shape: tuple[int, int] = (84, 84),
        seed: int | None = None,
    ):
        self._frame_skip = _check_int("frame_skip", frame_skip, 1)
        self._num_img_obs = _check_int("num_img_obs", num_img_obs, 1)
        self._max_start_noops = _check_int("max_start_noops", max_start_noops, 0)
        self._horizon = _check_int("horizon", horizon, 1)
        if not isinstance(frame_shape, tuple | list) or len(frame_shape) != 2:
            raise ValueError(f"AtariEnv: frame_shape must be (H, W), got {frame_shape!r}")
        height = _check_int("frame_shape[0] (H)", frame_shape[0], 1)
        width = _check_int("frame_shape[1] (W)", frame_shape[1], 1)
        try:
            repeat_action_probability = float(repeat_action_probability)
        except (TypeError, ValueError):
            repeat_action_probability = float("nan")
        if not 0.0 <= repeat_action_probability <= 1.0:
            raise ValueError(
                "AtariEnv: repeat_action_probability must be in [0, 1], "
                f"got {repeat_action_probability!r}"
            )
        self._game = game
        self._rom_path = _rom_path(game)
        self._clip_reward = bool(clip_reward)
        self._episodic_lives = bool(episodic_lives)
        self._fire_on_reset = bool(fire_on_reset)
        self._repeat_action_probability = repeat_action_probability

        ale = self._open_emulator()
        self._seed_emulator(seed)  # sets random_seed, then loads the ROM
        self._action_set = list(ale.getMinimalActionSet())

        n = self._num_img_obs
        self._frames = np.zeros((n, height, width), dtype=np.uint8)
        self._bind_buffers()
        self._order = [np.arange(i + 1, i + 1 + n) % n for i in range(n)]  # newest at i
        self._next_slot = [(i + 1) % n for i in range(n)]
        self._newest = n - 1
        self._dsize = (width, height)  # cv2 sizes are (W, H)
        self._pre_pool_acts = range(max(self._frame_skip - 2, 0))

        self._action_space = IntBox(0, len(self._action_set))
        self._observation_space = IntBox(0, 256, shape=(n, height, width), dtype="uint8")
        super().seed(seed)  # the spaces' own samplers
        self._lives = ale.lives()
        self._step_counter = 0

    def _open_emulator(self):
        # Silence ALE's banner and info messages (a process-wide setting, which
        # gymnasium's ALE envs set the same way).
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
        ale = self._ale = ale_py.ALEInterface()
        ale.setFloat("repeat_action_probability", self._repeat_action_probability)
        ale.setInt("frame_skip", 1)  # we repeat actions ourselves, to max-pool frames
        self._act = ale.act
        self._grab = ale.getScreenGrayscale
        return ale

    def _bind_buffers(self) -> None:
        # Two raw screens for the max-pool, and the frame stack as a ring buffer:
        # the newest frame is resized straight into its slot, and the one copy
        # that step() returns is gathered oldest-first with a precomputed order.
        screen_h, screen_w = self._ale.getScreenDims()
        self._raw = np.zeros((2, screen_h, screen_w), dtype=np.uint8)
        self._raw_last, self._raw_prev = self._raw[0], self._raw[1]
        self._slots = [self._frames[i] for i in range(self._num_img_obs)]  # views

    # -- the hot path -------------------------------------------------------------

    def step(self, action) -> EnvStep:
        act, grab = self._act, self._grab
        a = self._action_set[action]
        score = 0
        for _ in self._pre_pool_acts:
            score += act(a)
        raw_last = self._raw_last
        if self._frame_skip > 1:  # max-pool the screens after the last two acts
            score += act(a)
            grab(self._raw_prev)
            score += act(a)
            grab(raw_last)
            np.maximum(raw_last, self._raw_prev, out=raw_last)
        else:
            score += act(a)
            grab(raw_last)

        ale = self._ale
        lives = ale.lives()
        lost_life = self._lives > lives > 0
        if lost_life:
            score += self._life_reset()  # advance past the lost-life state
            if self._episodic_lives:  # a new episode for the agent: no older frames
                self._frames.fill(0)
        else:
            self._lives = lives  # (lives may also go up: bonus lives)
        newest = self._newest = self._next_slot[self._newest]
        cv2.resize(raw_last, self._dsize, dst=self._slots[newest], interpolation=cv2.INTER_AREA)

        game_over = ale.game_over()
        self._step_counter += 1
        timeout = self._step_counter >= self._horizon and not game_over
        traj_done = game_over or timeout
        done = traj_done or (lost_life and self._episodic_lives)
        if self._clip_reward:
            reward = _CLIPPED[(score > 0) - (score < 0)]
        else:
            reward = np.float32(score)
        observation = self._frames.take(self._order[newest], axis=0)  # a fresh copy
        return EnvStep(observation, reward, done, EnvInfo(np.float32(score), traj_done, timeout))

    # -- resets -------------------------------------------------------------------

    def reset(self) -> np.ndarray:
        """Hard reset of the game: a new trajectory; returns the first observation."""
        if self._ale is None:
            raise RuntimeError(f"AtariEnv({self._game!r}): reset() after close()")
        ale = self._ale
        ale.reset_game()
        self._frames.fill(0)
        self._life_reset()
        for _ in range(self._rng.integers(0, self._max_start_noops + 1)):
            ale.act(_NOOP)
        self._lives = ale.lives()
        self._grab(self._raw_last)
        newest = self._newest
        cv2.resize(
            self._raw_last, self._dsize, dst=self._slots[newest], interpolation=cv2.INTER_AREA
        )
        self._step_counter = 0
        return self._frames.take(self._order[newest], axis=0)

    def _life_reset(self) -> int:
        """NOOP (to leave a lost-life state), then FIRE if ``fire_on_reset``; returns their score."""
        score = self._act(_NOOP)
        if self._fire_on_reset:
            score += self._act(_FIRE)
        self._lives = self._ale.lives()
        return score

    # -- env model: clone/restore, pickling ------------------------------------------

    def clone_state(self) -> AtariState:
        """The game's state: emulator (with its RNG), frame stack, lives, step count, no-op RNG.

        ``restore_state`` of it makes the next steps bit-identical, sticky
        actions included (see :mod:`rlpyt.envs.model`). So a planner that
        restores one state before each rollout replays the same sticky-action
        draws in every rollout.
        """
        if self._ale is None:
            raise RuntimeError(f"AtariEnv({self._game!r}): clone_state() after close()")
        return AtariState(
            emulator=self._ale.cloneState(include_rng=True).serialize(),
            frames=self._frames.copy(),
            newest=self._newest,
            lives=self._lives,
            step_counter=self._step_counter,
            noop_rng=copy.deepcopy(self._rng.bit_generator.state),
        )

    def restore_state(self, state: AtariState) -> None:
        if self._ale is None:
            raise RuntimeError(f"AtariEnv({self._game!r}): restore_state() after close()")
        self._ale.restoreState(ale_py.ALEState(state.emulator))
        self._frames[:] = state.frames  # in place: the slots are views of it
        self._newest = state.newest
        self._lives = state.lives
        self._step_counter = state.step_counter
        self._rng.bit_generator.state = copy.deepcopy(state.noop_rng)

    def __getstate__(self):
        # The emulator and the bound methods and views on it do not pickle:
        # the emulator's state travels as clone_state() and is restored into a
        # fresh emulator, so an unpickled env continues bit-exactly.
        state = dict(self.__dict__)
        state["_saved_state"] = None if self._ale is None else self.clone_state()
        for key in ("_ale", "_act", "_grab", "_raw", "_raw_last", "_raw_prev", "_slots"):
            del state[key]
        return state

    def __setstate__(self, state):
        saved = state.pop("_saved_state")
        self.__dict__.update(state)
        if saved is None:  # a closed env stays closed
            self._ale = self._act = self._grab = None
            self._slots = [self._frames[i] for i in range(self._num_img_obs)]
            return
        self._open_emulator()
        self._ale.loadROM(str(self._rom_path))  # the seed is in the restored state
        self._bind_buffers()
        self.restore_state(saved)

    # -- seeding, properties, closing ----------------------------------------------

    def seed(self, seed: int | None = None) -> None:
        """Re-seed the emulator and the no-op draws (and the spaces); reset() next.

        The same seed and the same actions give the same frames and rewards.
        Reloads the ROM, so the game in progress is lost.
        """
        if self._ale is None:
            raise RuntimeError(f"AtariEnv({self._game!r}): seed() after close()")
        super().seed(seed)
        self._seed_emulator(seed)

    def _seed_emulator(self, seed: int | None) -> None:
        # Two independent streams from one seed: the ALE's and the no-op generator's.
        ale_seed, noop_seed = np.random.SeedSequence(seed).generate_state(2)
        self._rng = np.random.default_rng(int(noop_seed))
        self._ale.setInt("random_seed", int(ale_seed) & 0x7FFFFFFF)  # ALE takes an int32
        self._ale.loadROM(str(self._rom_path))  # applies random_seed and the settings

    @property
    def horizon(self) -> int:
        return self._horizon

    @property
    def lives(self) -> int:
        """Lives left in the current game (0 for games without lives)."""
        return self._ale.lives()

    @property
    def game(self) -> str:
        return self._game

    @property
    def action_meanings(self) -> list[str]:
        """Names of the actions, e.g. ``["NOOP", "FIRE", "RIGHT", ...]``."""
        return [a.name for a in self._action_set]

    def close(self) -> None:
        self._ale = None  # ALEInterface frees the emulator when collected
        self._act = self._grab = None


class AtariTrajInfo(TrajInfo):
    """TrajInfo plus ``GameScore``: the sum of the unclipped scores of the trajectory.

    With ``clip_reward``, ``Return`` sums clipped rewards; ``GameScore`` is the
    score the game shows (summed over all lives of the game).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.GameScore = 0.0

    def step(self, observation, action, reward, done, agent_info, env_info) -> None:
        super().step(observation, action, reward, done, agent_info, env_info)
        self.GameScore += float(env_info.game_score)


def _check_int(name: str, value, minimum: int) -> int:
    return require_int_at_least(f"AtariEnv: {name}", value, minimum)


def _rom_path(game) -> str:
    available = roms.get_all_rom_ids()
    if not isinstance(game, str) or game not in available:
        close = difflib.get_close_matches(str(game), available, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        examples = ", ".join(repr(g) for g in ("pong", "breakout", "space_invaders", "seaquest"))
        raise ValueError(
            f"AtariEnv: unknown game {game!r}.{hint} Games are ale-py ROM ids in snake_case, "
            f"e.g. {examples} ({len(available)} in all: ale_py.roms.get_all_rom_ids() "
            "lists them)."
        )
    path = roms.get_rom_path(game)
    if path is None:  # listed but not loadable (ALE_ROMS_DIR set elsewhere)
        raise ValueError(f"AtariEnv: ale-py found no ROM file for game {game!r}")
    return str(path)
