"""Planning envs: rules, solvability, clone/restore (bit-exact, hashable states), registration."""

import pickle
import subprocess
import sys
import time
from collections import deque

import gymnasium
import numpy as np
import pytest
from clone_checks import check_clone_restore, roll
from hypothesis import given, settings
from hypothesis import strategies as st

from rlpyt.envs.gym import gym_make
from rlpyt.envs.model import ModelEnv, PerfectModel
from rlpyt.envs.planning import ENV_IDS, BitFlipper, Hanoi, Sokoban, ToyMR, generate_room
from rlpyt.envs.planning.base import one_hot
from rlpyt.envs.planning.hanoi import MOVES
from rlpyt.envs.planning.toy_mr import ToyMRMap

FAST = settings(max_examples=15, deadline=None)

ENVS = {  # gymnasium id -> (kwargs, number of actions)
    "rlpyt/Hanoi-v0": (dict(n_disks=3, reward_for_invalid_action=-0.1), 6),
    "rlpyt/ToyMR-v0": (dict(map_name="small"), 4),
    "rlpyt/BitFlipper-v0": (dict(n_bits=5), 5),
    "rlpyt/Sokoban-v0": (dict(dim_room=(6, 6), num_boxes=2, max_steps=30), 4),
}


def bfs(env, start, max_states=100_000):
    """Shortest number of steps from state ``start`` to a solved step (None: none found).

    Uses the env as its own model: restore, step, clone; states key the visited set.
    """
    dist = {start: 0}
    queue = deque([start])
    while queue and len(dist) < max_states:
        state = queue.popleft()
        for a in range(env.action_space.n):
            env.restore_state(state)
            _, _, terminated, truncated, info = env.step(a)
            if info["solved"]:
                return dist[state] + 1
            nxt = env.clone_state()
            if not (terminated or truncated) and nxt not in dist:
                dist[nxt] = dist[state] + 1
                queue.append(nxt)
    return None


@pytest.mark.parametrize("env_id", sorted(ENVS))
@FAST
@given(data=st.data())
def test_clone_restore_is_bit_exact(env_id, data):
    kwargs, n = ENVS[env_id]
    env = gym_make(id=env_id, **kwargs)
    env.seed(data.draw(st.integers(0, 2**16)))
    prefix = data.draw(st.lists(st.integers(0, n - 1), max_size=30))
    actions = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=60))
    # Planning states leave out the generator of new episodes (rlpyt.envs.planning.base),
    # so the trajectories stop at the end of the episode.
    check_clone_restore(env, prefix, actions, reset_on_done=False)


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_registered_env_contract(env_id):
    kwargs, n = ENVS[env_id]
    assert env_id in gymnasium.registry and env_id in ENV_IDS
    env = gym_make(id=env_id, **kwargs)
    assert isinstance(env, ModelEnv) and env.action_space.n == n
    env.seed(0)
    obs = env.reset()
    assert obs.dtype == np.float32 and obs.ndim == 1
    assert env.observation_space.contains(obs)
    for a in np.random.default_rng(0).integers(0, n, size=20):
        step = env.step(a)
        assert env.observation_space.contains(step.observation)
        assert step.env_info._fields == ("solved", "timeout")
        if step.done:
            env.reset()
    # States are hashable and picklable; equal states for the same situation.
    inner = env.env.unwrapped
    state = inner.clone_state()
    assert hash(state) == hash(pickle.loads(pickle.dumps(state)))
    model = PerfectModel(env)
    model.catch_up(env)
    assert model.clone_state() == env.clone_state()


def test_hanoi_rules_and_optimal_solution():
    env = Hanoi(n_disks=3, reward_for_invalid_action=-0.5)
    obs, info = env.reset()
    assert env.clone_state() == (0, 0, 0) and not info["solved"]
    assert np.array_equal(obs.reshape(3, 3), [[1, 0, 0]] * 3)
    # Invalid: from an empty peg, and a larger disk onto a smaller one.
    move = {m: a for a, m in enumerate(MOVES)}
    _, reward, terminated, _, info = env.step(move[(1, 2)])
    assert reward == -0.5 and not terminated and env.clone_state() == (0, 0, 0)
    env.step(move[(0, 1)])  # disk 0 -> peg 1
    _, reward, *_ = env.step(move[(0, 1)])  # disk 1 onto disk 0: invalid
    assert reward == -0.5 and env.clone_state() == (1, 0, 0)

    def solve(n, source, target, spare):
        if n == 0:
            return []
        return (
            solve(n - 1, source, spare, target)
            + [move[(source, target)]]
            + solve(n - 1, spare, target, source)
        )

    for n_disks in (1, 3, 5):
        env = Hanoi(n_disks=n_disks)
        env.reset()
        plan = solve(n_disks, 0, 2, 1)
        assert len(plan) == 2**n_disks - 1
        results = [env.step(a) for a in plan]
        assert [r[2] for r in results] == [False] * (len(plan) - 1) + [True]
        assert results[-1][1] == 1.0 and results[-1][4]["solved"]
        assert sum(r[1] for r in results) == 1.0
        assert bfs(Hanoi(n_disks=n_disks), (0,) * n_disks) == 2**n_disks - 1


def test_bit_flipper_goal_reached_by_flipping_the_differences():
    env = BitFlipper(n_bits=6)
    obs, _ = env.reset(seed=3)
    bits, goal = obs[:6], obs[6:]
    assert not np.array_equal(bits, goal)
    diff = np.flatnonzero(bits != goal)
    results = [env.step(i) for i in diff]
    assert [r[1] for r in results] == [-1.0] * (len(diff) - 1) + [0.0]
    assert results[-1][2] and results[-1][4]["solved"] and not results[-1][3]
    assert env.compute_reward(np.array([[1, 0], [0, 0]]), np.array([[1, 0], [1, 0]])).tolist() == [
        0.0,
        -1.0,
    ]
    env.reset(seed=4)
    truncated = [env.step(0)[3] for _ in range(6)]  # flipping one bit back and forth
    assert truncated == [False] * 5 + [True]


def test_toy_mr_maps_are_solvable_and_sized():
    small, full = ToyMR(map_name="small"), ToyMR(map_name="full")
    assert small.map.n_rooms == 4 and full.map.n_rooms == 24
    assert len(full.map.doors) >= 4 and len(full.map.keys) >= len(full.map.doors)
    for env, limit in ((small, 100), (full, 600)):
        env.reset()
        steps = bfs(env, env.clone_state())
        assert steps is not None and steps < limit


def test_toy_mr_keys_doors_traps():
    text = """; a one-room corridor
room 3 9
#########
#TA.KD.G#
#########
"""
    path = _write(text)
    env = ToyMR(map_name=path, reward_for_key=0.5)
    obs, _ = env.reset()
    assert env.room == 0 and obs.shape == env.observation_space.shape
    left, right = 2, 3
    _, reward, terminated, _, info = env.step(left)  # a trap
    assert terminated and not info["solved"] and reward == 0.0
    env.reset()
    env.step(right)
    _, reward, *_ = env.step(right)  # the key
    assert reward == 0.5 and env.clone_state()[2] == 1
    env.step(right)  # through the door, spending the key
    assert env.clone_state()[1:] == (5, 1, 1)
    env.step(left)
    env.step(left)  # back over the taken key: no second reward
    env.step(right)
    env.step(right)  # the door stays open
    env.step(right)
    _, reward, terminated, _, info = env.step(right)
    assert terminated and info["solved"] and reward == 1.0
    # Without the key the door is a wall.
    env.restore_state((1, 4, 0, 0))
    env.step(right)
    assert env.clone_state() == (1, 4, 0, 0)


def test_toy_mr_bad_maps_are_refused():
    with pytest.raises(ValueError, match="room H W"):
        ToyMRMap("#A#\n", "x")
    with pytest.raises(ValueError, match="exactly one 'A'"):
        ToyMRMap("room 1 3\n#.G\n", "x")
    with pytest.raises(ValueError, match="neither a shipped map"):
        ToyMR(map_name="no-such-map")


def test_sokoban_rooms_generate_fast_and_are_solvable():
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    rooms = [generate_room((6, 6), 2, rng) for _ in range(20)]
    assert (time.perf_counter() - start) / 20 < 0.05
    env = Sokoban(dim_room=(6, 6), num_boxes=2, max_steps=10_000)
    env.reset(seed=0)
    for fixed, boxes, player in rooms:
        assert len(boxes) == 2 and (fixed == 2).sum() == 2
        assert all(fixed[b] != 2 for b in boxes) and player not in boxes
        assert bfs(env, (fixed.tobytes(), (6, 6), boxes, player, 0)) is not None


def test_sokoban_push_rewards_and_seeding():
    env = Sokoban(dim_room=(5, 6), num_boxes=1, max_steps=50)
    env.reset(seed=0)
    fixed = np.zeros((5, 6), dtype=np.uint8)
    fixed[2, 1:5] = 1
    fixed[2, 4] = 2  # target
    env.restore_state((fixed.tobytes(), (5, 6), ((2, 2),), (2, 1), 0))
    right = 3
    _, reward, terminated, _, _ = env.step(right)  # box (2,2) -> (2,3)
    assert env.clone_state()[2:4] == (((2, 3),), (2, 2)) and reward == pytest.approx(-0.1)
    _, reward, terminated, _, info = env.step(right)  # onto the target: solved
    assert reward == pytest.approx(-0.1 + 1 + 10) and terminated and info["solved"]
    env.restore_state((fixed.tobytes(), (5, 6), ((2, 1),), (2, 2), 0))
    _, reward, terminated, _, _ = env.step(2)  # left: the box is against the wall
    assert env.clone_state()[2:4] == (((2, 1),), (2, 2)) and not terminated
    # Same seed, same rooms.
    a, b = Sokoban(dim_room=(7, 7)), Sokoban(dim_room=(7, 7))
    obs = a.reset(seed=5)[0]
    assert np.array_equal(obs, b.reset(seed=5)[0])
    assert a.clone_state() == b.clone_state()
    obs = obs.reshape(7, 7, 7)
    assert (obs.sum(axis=-1) == 1).all()  # one channel per cell


def test_gym_make_resolves_planning_ids_and_time_limits():
    env = gym_make(id="rlpyt/Hanoi-v0", n_disks=2)
    assert env.horizon == 1000 and "Hanoi-v0" in env.name
    env.seed(0)
    env.reset()
    steps = roll(env, [0] * 1000, reset_on_done=False)
    assert steps[-1].done and steps[-1].env_info.timeout and not steps[-2].done


def test_cli_knows_planning_ids():
    # A fresh process: the ids must resolve without importing rlpyt.envs.planning first.
    code = (
        "from rlpyt.cli.configs import env_kind; from rlpyt.cli.build import make_env_factory;"
        "EnvCls, kw, _ = make_env_factory({'id': 'rlpyt/BitFlipper-v0', 'kwargs': {'n_bits': 3}});"
        "print(env_kind('rlpyt/Sokoban-v0'), EnvCls(**kw).observation_space.shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "discrete (6,)"


def _write(text):
    import tempfile

    f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False)
    f.write(text)
    f.close()
    return f.name


def test_one_hot_of_a_sequence_an_array_and_a_scalar():
    expected = np.array([1, 0, 0, 0, 0, 1, 0, 1, 0], dtype=np.float32)
    for index in ((0, 2, 1), [0, 2, 1], np.array([0, 2, 1])):
        out = one_hot(index, 3)
        assert out.dtype == np.float32 and np.array_equal(out, expected)
    assert np.array_equal(one_hot(np.int64(2), 4), [0, 0, 1, 0])
    with pytest.raises(IndexError, match="index 3 out of range for size 3"):
        one_hot((0, 3), 3)
