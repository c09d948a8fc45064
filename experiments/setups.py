"""The published setups, one row each: what ``python -m experiments.run SETUP`` launches.

A row names the run script (``scripts/<family>/train/<kind>.py``, see
:mod:`experiments.train_specs`), the config it trains, the family's configs, the games or
envs and a one-line summary; the layout on this machine comes from :mod:`experiments.launching`.
Importing this module imports no torch (the launcher starts fast).
"""

from experiments.configs import atari_dqn, atari_pg, atari_r2d1, mujoco_pg, mujoco_qpg
from experiments.launching import Setup

__all__ = ["SETUPS"]


def _atari(title, script, config_key, family, summary, envs=None) -> Setup:
    """Atari: the GPU sampler, a GPU per run where there is one, else 4 cores per run."""
    envs = family.GAMES if envs is None else envs
    return Setup(title, f"atari.{script}", config_key, family.configs, ("env", "game"), envs,
                 uses_gpu=True, cpu_per_run=4, summary=summary)  # fmt: skip


def _mujoco(title, script, config_key, family, summary) -> Setup:
    """MuJoCo: serial sampling on one core per run, no GPU."""
    return Setup(title, f"mujoco.{script}", config_key, family.configs, ("env", "id"),
                 family.ENVS, uses_gpu=False, cpu_per_run=1, summary=summary)  # fmt: skip


_ROWS = [
    # Atari DQN family (DQN, CategoricalDQN, R2D1): 4 games x 2 runs, 50M steps (R2D1 100M).
    _atari("atari_dqn", "dqn.train.atari_dqn", "dqn", atari_dqn,
           "DQN (Mnih et al. 2015, with Adam) on Atari: the white paper's DQN baseline."),
    _atari("atari_double", "dqn.train.atari_dqn", "double", atari_dqn,
           "Double DQN (van Hasselt et al. 2016) on Atari."),
    _atari("atari_prioritized", "dqn.train.atari_dqn", "prioritized", atari_dqn,
           "DQN with prioritized replay (Schaul et al. 2016) on Atari."),
    _atari("atari_dueling", "dqn.train.atari_dqn", "dueling", atari_dqn,
           "Dueling DQN (Wang et al. 2016) on Atari."),
    _atari("atari_catdqn", "dqn.train.atari_catdqn", "catdqn", atari_dqn,
           "Categorical DQN, C51 (Bellemare et al. 2017), on Atari."),
    _atari("atari_ernbw", "dqn.train.atari_catdqn", "ernbw", atari_dqn,
           "Rainbow minus noisy nets (Hessel et al. 2018) on Atari."),
    _atari("atari_r2d1", "dqn.train.atari_r2d1", "r2d1", atari_r2d1,
           "R2D1, recurrent replay DQN (Kapturowski et al. 2019), basic setup, on Atari."),
    _atari("atari_r2d1_long", "dqn.train.atari_r2d1", "r2d1_long", atari_r2d1,
           "R2D1 long runs (~10B frames) on Atari: the white paper's R2D2 reproduction.",
           envs=atari_r2d1.LONG_GAMES),
    # Atari policy gradient: 4 games x 2 runs, 50M steps.
    _atari("atari_ff_a2c", "pg.train.atari_ff_a2c", "ff_a2c", atari_pg,
           "A2C with the feed-forward agent on Atari."),
    _atari("atari_ff_ppo", "pg.train.atari_ff_ppo", "ff_ppo", atari_pg,
           "PPO with the feed-forward agent on Atari."),
    _atari("atari_lstm_a2c", "pg.train.atari_lstm_a2c", "lstm_a2c", atari_pg,
           "A2C with the LSTM agent on Atari."),
    _atari("atari_lstm_ppo", "pg.train.atari_lstm_ppo", "lstm_ppo", atari_pg,
           "PPO with the LSTM agent on Atari."),
    # MuJoCo: 6 envs x 2 runs, 1M steps.
    _mujoco("mujoco_ppo", "pg.train.mujoco_ppo", "ppo", mujoco_pg,
            "PPO (Schulman et al. 2017) on MuJoCo."),
    _mujoco("mujoco_ddpg", "qpg.train.mujoco_ddpg", "ddpg", mujoco_qpg,
            "DDPG as re-tuned by Fujimoto et al. (2018) on MuJoCo."),
    _mujoco("mujoco_td3", "qpg.train.mujoco_td3", "td3", mujoco_qpg,
            "TD3 (Fujimoto et al. 2018) on MuJoCo."),
    _mujoco("mujoco_sac", "qpg.train.mujoco_sac", "sac", mujoco_qpg,
            "SAC (Haarnoja et al. 2018) on MuJoCo."),
]  # fmt: skip

SETUPS: dict[str, Setup] = {setup.title: setup for setup in _ROWS}
