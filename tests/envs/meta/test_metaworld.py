"""Meta-World ML1 (optional extra): the refusal when metaworld is missing or its MuJoCo pin
conflicts, and the adapter's task logic against a FAKE ``metaworld`` module.

metaworld cannot be installed beside this project's MuJoCo (metaworld 3.1 pins
``mujoco==3.3.0``), so the adapter is tested with :func:`fake_metaworld`: a stand-in
module, injected as ``sys.modules["metaworld"]``, with Meta-World's API as the adapter uses
it (``ML1(name, seed)``, ``ENV_NAMES``, ``train_classes``, ``train_tasks``/``test_tasks`` of
50 ``Task(env_name, data)`` each, an env with ``set_task``/``seed``/``reset``/``step`` and
``info["success"]``) and a toy point-reaching physics. It is not Meta-World; the one test
of the real package skips, saying why, where it is unavailable.
"""

import pickle
import sys
import types
from typing import NamedTuple

import gymnasium
import numpy as np
import pytest

import rlpyt.envs.meta.metaworld as mw
from rlpyt.cli.main import main
from rlpyt.envs.meta import make_task_split, meta_make, task_key
from rlpyt.envs.meta.metaworld import MetaWorldML1Env, MetaWorldUnavailable, mujoco_conflict

# metaworld 3.1.1's requirements, as importlib.metadata.requires lists them.
METAWORLD_311 = ["gymnasium>=1.1", "mujoco==3.3.0", "numpy>=1.18", "scipy>=1.4.1", "imageio",
                 'pytest>=4.4.0; extra == "testing"']  # fmt: skip


class FakeTask(NamedTuple):
    env_name: str
    data: bytes


class FakeReachEnv:
    """A point hand moved by the action (clipped to [-1, 1]) towards a hidden 3-d goal."""

    max_path_length = 500

    def __init__(self):
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (3,), np.float64)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.goal = None
        self.seeds = []

    def set_task(self, task):
        self.goal = pickle.loads(task.data)["rand_vec"]

    def seed(self, seed):
        self.seeds.append(seed)

    def reset(self, seed=None, options=None):
        assert self.goal is not None, "Meta-World refuses to run before set_task"
        self.hand, self.t = np.zeros(3), 0
        return self.hand.copy(), {}

    def step(self, action):
        if self.t >= self.max_path_length:
            raise ValueError("You must reset the env manually once truncate==True")
        self.t += 1
        self.hand = self.hand + 0.1 * np.clip(action, -1, 1)
        distance = float(np.linalg.norm(self.hand - self.goal))
        info = {"success": float(distance < 0.05), "obj_to_target": distance}
        return self.hand.copy(), -distance, False, self.t == self.max_path_length, info

    def close(self):
        pass


def fake_metaworld() -> types.ModuleType:
    """A FAKE ``metaworld`` (module docstring): ML1 with 50 train and 50 test goals drawn
    from the seed (test goals from seed + 1, as Meta-World does)."""
    module = types.ModuleType("metaworld")

    class ML1:
        ENV_NAMES = ["reach-v3", "push-v3"]

        def __init__(self, env_name, seed=None):
            def goals(s):
                rng = np.random.default_rng(s)
                return [FakeTask(env_name, pickle.dumps({"rand_vec": g}))
                        for g in rng.uniform(-1, 1, size=(50, 3))]  # fmt: skip

            self.train_classes = {env_name: FakeReachEnv}
            self.train_tasks, self.test_tasks = goals(seed), goals(seed + 1)

    module.ML1 = ML1
    return module


@pytest.fixture
def fake(monkeypatch):
    """The fake metaworld installed (no distribution metadata: no pin to check)."""
    monkeypatch.setitem(sys.modules, "metaworld", fake_metaworld())
    monkeypatch.setattr(mw, "_metaworld_requirements", lambda: None)


@pytest.fixture
def missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "metaworld", None)  # `import metaworld` raises ImportError
    monkeypatch.setattr(mw, "_metaworld_requirements", lambda: None)


def test_missing_extra_named(missing, tmp_path, capsys):
    with pytest.raises(MetaWorldUnavailable, match=r"needs the optional extra: pip install "
                       r"'rlpyt\[metaworld\]' \(metaworld is not installed"):  # fmt: skip
        MetaWorldML1Env("reach-v3")
    with pytest.raises(ImportError, match=r"rlpyt\[metaworld\]"):
        meta_make("ml1")
    # From the command line: one line, exit status 2, no run directory.
    assert main(["train", "--algo", "pearl", "--env", "ml1", "--log-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: env.id 'ml1': Meta-World ML1 needs the optional extra")
    assert not any(tmp_path.iterdir())


def test_conflicting_mujoco_named_before_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "metaworld", fake_metaworld())  # importable, yet refused
    monkeypatch.setattr(mw, "_metaworld_requirements", lambda: METAWORLD_311)
    versions = {"mujoco": "4.0.1", "metaworld": "3.1.1"}
    monkeypatch.setattr(mw, "_installed_version", versions.get)
    with pytest.raises(MetaWorldUnavailable) as info:
        MetaWorldML1Env("reach-v3")
    assert str(info.value) == (
        "Meta-World ML1 (the optional extra rlpyt[metaworld]) conflicts with the installed "
        "MuJoCo: metaworld 3.1.1 requires mujoco==3.3.0, but mujoco 4.0.1 is installed "
        "(gymnasium's MuJoCo envs use it); install the extra in an environment of its own: "
        "pip install 'rlpyt[metaworld]'"
    )
    versions["mujoco"] = "3.3.0"  # the pinned version: no conflict
    assert MetaWorldML1Env("reach-v3").task == {"split": 0, "index": 0}


def test_mujoco_conflict():
    assert mujoco_conflict(METAWORLD_311, "4.0.1") == "mujoco==3.3.0"
    assert mujoco_conflict(METAWORLD_311, "3.3.0") is None
    assert mujoco_conflict(["mujoco>=3.1,<4"], "4.0.1") == "mujoco<4,>=3.1"
    assert mujoco_conflict(['mujoco==2.0; extra == "old"'], "4.0.1") is None  # extras only
    assert mujoco_conflict(METAWORLD_311, None) is None  # no MuJoCo installed
    assert mujoco_conflict(None, "4.0.1") is None  # no metaworld installed


def test_split_is_metaworlds_train_and_test_goals(fake):
    env = meta_make("ml1", task_name="push-v3")
    assert env.horizon == 500
    split = make_task_split(env, 4, 3, train_seed=1, test_seed=2)
    assert [t["split"] for t in split.train] == [0] * 4
    assert [t["split"] for t in split.test] == [1] * 3
    again = make_task_split(env, 4, 3, train_seed=1, test_seed=2)
    assert [task_key(t) for t in split.train + split.test] == [
        task_key(t) for t in again.train + again.test
    ]  # seeded
    assert len({t["index"] for t in env.sample_tasks(50, seed=0)}) == 50  # no repeats
    with pytest.raises(ValueError, match="has 50 test_tasks, fewer than the 51"):
        make_task_split(env, 2, 51, train_seed=1, test_seed=2)
    with pytest.raises(ValueError, match="both 4"):  # the seed rule is the same as elsewhere
        make_task_split(env, 2, 2, train_seed=4, test_seed=4)


def test_set_task_sets_the_goal_reward_success_and_horizon(fake):
    env = meta_make("ml1", task_name="reach-v3", benchmark_seed=3)
    benchmark = env.task_env.benchmark
    returns = []
    for task in ({"split": 0, "index": 5}, {"split": 1, "index": 5}):
        env.set_task(task)
        goal = pickle.loads(benchmark.test_tasks[5].data if task["split"] else
                            benchmark.train_tasks[5].data)["rand_vec"]  # fmt: skip
        env.seed(7)
        env.reset()
        step = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        assert step.reward == pytest.approx(-np.linalg.norm([0.1, 0, 0] - goal))
        returns.append(step.reward)
    assert returns[0] != returns[1]
    assert env.task_env._env.seeds == [7, 7]  # the seed reaches Meta-World's seed()
    # A reachable goal: success in env_info once the hand is within 0.05.
    env.task_env._env.goal = np.array([0.3, 0.0, 0.0])
    env.reset()
    successes = [env.step(np.array([1.0, 0, 0], np.float32)).env_info.success for _ in range(3)]
    assert successes == [0.0, 0.0, 1.0]
    for t in range(3, 500):
        step = env.step(np.zeros(3, np.float32))
        assert step.done == (t == 499)
    assert bool(step.env_info.timeout)  # 500 steps: a truncation, then a reset


def test_bad_task_and_task_name_refused(fake):
    env = MetaWorldML1Env("reach-v3")
    for task in (3, {"split": 2, "index": 0}, {"split": 0, "index": 50}, {"index": 1}):
        with pytest.raises(ValueError, match=r"an ML1 task is \{'split': 0 \(train\) or 1"):
            env.set_task(task)
    with pytest.raises(ValueError, match=r"no ML1 task 'rech-v3' \(did you mean 'reach-v3'\?\)"):
        MetaWorldML1Env("rech-v3")


def test_real_metaworld_ml1_reach():
    """The real package, where installed without conflict (skipped, saying why, elsewhere)."""
    try:
        mw.import_metaworld()
    except MetaWorldUnavailable as err:
        pytest.skip(str(err))
    env = meta_make("ml1", task_name="reach-v3")
    split = make_task_split(env, 2, 2, train_seed=1, test_seed=2)
    env.set_task(split.test[0])
    env.reset()
    step = env.step(np.zeros(env.action_space.shape, np.float32))
    assert step.env_info.success in (0.0, 1.0) and np.isfinite(step.reward)
    env.close()
