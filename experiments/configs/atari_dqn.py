"""Atari deep Q-learning: DQN and its variants up to Rainbow minus noisy nets.

The settings of the original rlpyt's ``experiments/configs/atari/dqn/atari_dqn.py``, the runs
of the white paper's DQN figure: the Nature DQN network trained with Adam (learning rate 1e-4,
batch 128) from a 1M-transition replay, 8 replayed samples per env step, the target network
copied every 312 updates, epsilon annealed from 1 to 0.01 over the first 1M steps after
learning starts at 50k; 16 envs x 2 steps per iteration with episodic lives; 50M env steps
(200M frames), evaluated every 1M steps on 4 envs without episodic lives (at most 125k steps or
100 episodes, episodes cut at 27k steps = 30 minutes of play).

Setups (config names, as in the original):

- ``dqn``: the basic DQN above.
- ``double``: double Q-learning targets (van Hasselt et al. 2016).
- ``prioritized``: prioritized replay (Schaul et al. 2016; alpha 0.6, beta 0.4 -> 1).
- ``dueling``: the dueling head (Wang et al. 2016).
- ``catdqn``: categorical DQN, C51 (Bellemare et al. 2017): 51 atoms on [-10, 10],
  learning rate 2.5e-4.
- ``ernbw``: "Rainbow minus noisy nets" (Hessel et al. 2018): categorical + double +
  prioritized + dueling + 3-step returns, learning rate 6.25e-5.

``catdqn`` and ``ernbw`` need the categorical algorithm and agent
(``scripts/atari/dqn/train/atari_catdqn.py``); the others run ``atari_dqn.py``.
"""

from experiments.configs import derive

__all__ = ["GAMES", "configs", "tiny"]

# The games of the white paper's Atari figures (ale-py names).
GAMES = ("pong", "seaquest", "qbert", "chopper_command")

_DQN = dict(
    agent=dict(eps_init=1.0, eps_final=0.01, eps_eval=0.001),
    model=dict(dueling=False),
    algo=dict(
        discount=0.99,
        batch_size=128,
        learning_rate=1e-4,  # the original's choice for Adam (Nature DQN: RMSProp 2.5e-4)
        clip_grad_norm=10.0,
        min_steps_learn=int(5e4),
        replay_size=int(1e6),
        replay_ratio=8,
        target_update_interval=312,
        eps_steps=int(1e6),
        n_step_return=1,
        double_dqn=False,
        prioritized_replay=False,
    ),
    optim=dict(),
    env=dict(game="pong", episodic_lives=True),
    eval_env=dict(game="pong", episodic_lives=False, horizon=int(27e3)),
    sampler=dict(
        batch_T=2,
        batch_B=16,
        max_decorrelation_steps=1000,
        eval_n_envs=4,
        eval_max_steps=int(125e3),
        eval_max_trajectories=100,
    ),
    runner=dict(n_steps=int(50e6), log_interval_steps=int(1e6), seed=None),
)

# C51's support: the algorithm's value range and the model's number of atoms.
_CATEGORICAL = derive(
    _DQN,
    {"algo": {"V_min": -10.0, "V_max": 10.0}, "model": {"n_atoms": 51}},
    new_keys=("algo.V_min", "algo.V_max", "model.n_atoms"),
)

configs = {
    "dqn": _DQN,
    "double": derive(_DQN, {"algo": {"double_dqn": True}}),
    "prioritized": derive(_DQN, {"algo": {"prioritized_replay": True}}),
    "dueling": derive(_DQN, {"model": {"dueling": True}}),
    "catdqn": derive(_CATEGORICAL, {"algo": {"learning_rate": 2.5e-4}}),
    "ernbw": derive(
        _CATEGORICAL,
        {
            "algo": {
                "learning_rate": 6.25e-5,
                "n_step_return": 3,
                "double_dqn": True,
                "prioritized_replay": True,
            },
            "model": {"dueling": True},
        },
    ),
}

# Two iterations of 2 envs x 4 steps: the first only fills the replay, the second learns
# (min_steps_learn = one iteration) with one update of 4 samples; an evaluation of 20 steps
# (on 2 envs) before training and at each of the two logs.
_TINY = dict(
    algo=dict(
        batch_size=4,
        min_steps_learn=8,
        replay_size=1000,
        replay_ratio=0.5,  # 0.5 x 8 steps / batch 4 = 1 update per iteration
        target_update_interval=1,
        eps_steps=8,
    ),
    sampler=dict(
        batch_T=4,
        batch_B=2,
        max_decorrelation_steps=0,
        eval_n_envs=2,  # as many as envs: every worker (at most one per env) evaluates
        eval_max_steps=20,
        eval_max_trajectories=2,
    ),
    runner=dict(n_steps=16, log_interval_steps=8),
)


def tiny(config: dict) -> dict:
    """``config`` cut down to two iterations of 8 env steps, one update in the second."""
    return derive(config, _TINY)
