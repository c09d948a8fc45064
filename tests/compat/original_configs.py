"""The experiment configs of the original rlpyt 0.1.2, restated as data for the compat tests.

``rlpyt/experiments/configs/{atari,mujoco}/...`` of the original define, per file, a dict of
named configs, each ``dict(agent=..., algo=..., env=..., eval_env=..., model=..., optim=...,
runner=..., sampler=...)``, most of them a base config with a few entries changed. They are
restated here as (base, changes) data, in the original's value style (``n_steps=50e6``,
``replay_size=1e4``, ``eval_max_steps=70e3``), with two edits only: gym env ids move to
gymnasium's v5 (``Hopper-v3`` -> ``Hopper-v5``) and Atari games keep their names.

Where a config file changed between revisions, the 0.1.2 revision is the one restated; the
DDPG config names its agent's network keywords as the 0.1.2 ``DdpgAgent`` does
(``model_kwargs``; an older revision wrote ``mu_model_kwargs``). In one file (mujoco PPO)
two names share one dict in the original, so the later edits apply to both: restated so.
"""

import copy

__all__ = ["FAMILIES", "all_configs"]


def _derive(base: dict, changes: dict) -> dict:
    """A deep copy of ``base`` with ``changes`` (section -> {key: value}) applied."""
    config = copy.deepcopy(base)
    for section, entries in changes.items():
        config.setdefault(section, {}).update(entries)
    return config


def _family(base: dict, variants: dict) -> dict:
    """name -> config, each variant ``(parent name or None for base, changes)``."""
    configs = {}
    for name, (parent, changes) in variants.items():
        configs[name] = _derive(base if parent is None else configs[parent], changes)
    return configs


_ATARI_DQN = dict(
    agent=dict(),
    algo=dict(
        discount=0.99,
        batch_size=128,
        learning_rate=1e-4,
        clip_grad_norm=10.0,
        min_steps_learn=int(5e4),
        double_dqn=False,
        prioritized_replay=False,
        n_step_return=1,
        replay_size=int(1e6),
    ),
    env=dict(game="pong", episodic_lives=True),
    eval_env=dict(game="pong", episodic_lives=False, horizon=int(27e3)),
    model=dict(dueling=False),
    optim=dict(),
    runner=dict(n_steps=50e6, log_interval_steps=1e6),
    sampler=dict(
        batch_T=2,
        batch_B=16,
        max_decorrelation_steps=1000,
        eval_n_envs=4,
        eval_max_steps=int(125e3),
        eval_max_trajectories=100,
    ),
)
_DOUBLE_PRI_DUEL = dict(
    algo=dict(double_dqn=True, prioritized_replay=True), model=dict(dueling=True)
)
_DEBUG = dict(
    sampler=dict(
        batch_T=8, batch_B=2, max_decorrelation_steps=20, eval_max_steps=8e3,
        eval_max_trajectories=4,
    ),
    runner=dict(n_steps=3e4, log_interval_steps=1e4),
    algo=dict(min_steps_learn=1e4, replay_size=1e4, eps_steps=2e4),
)  # fmt: skip

ATARI_DQN = _family(
    _ATARI_DQN,
    {
        "dqn": (None, {}),
        "double": (None, dict(algo=dict(double_dqn=True))),
        "prioritized": (None, dict(algo=dict(prioritized_replay=True))),
        "dueling": (None, dict(model=dict(dueling=True))),
        "double_pri_duel": (None, _DOUBLE_PRI_DUEL),
        "catdqn": (None, dict(algo=dict(learning_rate=2.5e-4))),
        "ernbw": (
            None,
            dict(
                algo=dict(n_step_return=3, learning_rate=6.25e-5, double_dqn=True,
                          prioritized_replay=True),
                model=dict(dueling=True),
            ),
        ),  # fmt: skip
        "rmsprop": (
            None,
            dict(optim=dict(alpha=0.95, eps=1e-6), algo=dict(learning_rate=2.5e-4),
                 runner=dict(n_steps=15e6)),
        ),  # fmt: skip
        "fast_log": (
            None,
            dict(runner=dict(n_steps=15e6, log_interval_steps=1e5),
                 sampler=dict(eval_max_steps=70e3, eval_max_trajectories=50)),
        ),  # fmt: skip
        "short_run": (None, dict(runner=dict(n_steps=15e6))),
        "no_eval": (None, dict(sampler=dict(eval_n_envs=0), runner=dict(log_interval_steps=int(1e5)))),
        "serial": (None, dict(sampler=dict(batch_T=8, batch_B=2))),
        "cpu": (None, dict(sampler=dict(batch_T=4, batch_B=4))),
        "debug": (None, _DEBUG),
        "debug_vec_eps": ("debug", dict(sampler=dict(batch_T=4, batch_B=4), agent=dict(eps_final_min=0.001))),
    },
)  # fmt: skip

_R2D1 = dict(
    agent=dict(),
    model=dict(dueling=True),
    algo=dict(
        discount=0.997,
        batch_T=80,
        batch_B=32,
        warmup_T=40,
        store_rnn_state_interval=40,
        replay_ratio=4,
        learning_rate=1e-4,
        clip_grad_norm=80.0,
        min_steps_learn=int(1e5),
        double_dqn=True,
        prioritized_replay=True,
        n_step_return=5,
        pri_alpha=0.9,
        pri_beta_init=0.6,
        pri_beta_final=0.6,
        input_priority_shift=2,
    ),
    optim=dict(),
    env=dict(game="pong", episodic_lives=True, clip_reward=False, horizon=int(27e3), num_img_obs=4),
    eval_env=dict(game="pong", episodic_lives=False, horizon=int(27e3), clip_reward=False,
                  num_img_obs=4),
    runner=dict(n_steps=100e6, log_interval_steps=1e6),
    sampler=dict(batch_T=30, batch_B=32, max_decorrelation_steps=1000, eval_n_envs=4,
                 eval_max_steps=int(161e3), eval_max_trajectories=100),
)  # fmt: skip


def _async_alt(batch_B, eval_n_envs, eval_max_trajectories):
    return dict(
        sampler=dict(batch_B=batch_B, eval_n_envs=eval_n_envs,
                     eval_max_steps=int(eval_n_envs * 28e3),
                     eval_max_trajectories=eval_max_trajectories),
    )  # fmt: skip


ATARI_R2D1 = _family(
    _R2D1,
    {
        "r2d1": (None, {}),
        "r2d1_long": (
            None,
            dict(
                algo=dict(replay_size=int(4e6), batch_B=64, replay_ratio=1),
                agent=dict(eps_final=0.1, eps_final_min=0.0005),
                runner=dict(n_steps=20e9, log_interval_steps=10e6),
                sampler=dict(batch_T=40, batch_B=192, eval_n_envs=6, eval_max_steps=int(28e3 * 6)),
                env=dict(episodic_lives=False),
            ),
        ),
        "r2d1_profile": (
            "r2d1_long",
            dict(runner=dict(n_steps=1e6, log_interval_steps=1e6), algo=dict(min_steps_learn=5e4),
                 sampler=dict(eval_max_trajectories=2)),
        ),
        "r2d1_prof_halftrain": ("r2d1_profile", dict(algo=dict(batch_B=32, replay_ratio=0.5))),
        "r2d1_prof_quartertrain": ("r2d1_profile", dict(algo=dict(batch_B=16, replay_ratio=0.25))),
        "r2d1_long_4tr": (
            "r2d1_long",
            dict(algo=dict(replay_ratio=4),
                 sampler=dict(eval_n_envs=12, eval_max_steps=int(28e3 * 12))),
        ),
        "async_gpu": (
            "r2d1_long",
            dict(sampler=dict(batch_B=256, batch_T=40, eval_n_envs=20,
                              eval_max_steps=int(28e3 * 20)),
                 algo=dict(replay_size=int(4e6), batch_B=64)),
        ),
        "r2d1_test": (
            "r2d1_long",
            dict(
                sampler=dict(batch_B=8, batch_T=5, max_decorrelation_steps=20, eval_n_envs=8,
                             eval_max_steps=int(8 * 1.5e3), eval_max_trajectories=8),
                env=dict(episodic_lives=True),
                algo=dict(replay_size=int(1e5), batch_B=16, batch_T=10, warmup_T=5,
                          min_steps_learn=1e4, eps_steps=1e5, store_rnn_state_interval=5),
                runner=dict(log_interval_steps=1e5),
            ),
        ),
        "async_alt_pabti": ("async_gpu", _async_alt(264, 44, 120)),
        "async_alt_dgx": ("async_gpu", _async_alt(312, 78, 210)),
        "async_alt_got": ("async_gpu", _async_alt(252, 36, 100)),
        "async_gpu_dgx": ("async_gpu", _async_alt(312, 39, 210)),
    },
)  # fmt: skip

_PG_ALGO = dict(discount=0.99, learning_rate=7e-4, value_loss_coeff=0.5, entropy_loss_coeff=0.01,
                clip_grad_norm=1.0)  # fmt: skip
_PPO_ALGO = dict(discount=0.99, learning_rate=1e-3, value_loss_coeff=1.0, entropy_loss_coeff=0.01,
                 clip_grad_norm=1.0, gae_lambda=0.98, linear_lr_schedule=True)  # fmt: skip


def _pg(algo, env, batch_T):
    return dict(
        agent=dict(), algo=dict(algo), env=env, model=dict(), optim=dict(),
        runner=dict(n_steps=50e6),
        sampler=dict(batch_T=batch_T, batch_B=32, max_decorrelation_steps=1000),
    )  # fmt: skip


ATARI_FF_A2C = _family(
    _pg(_PG_ALGO, dict(game="pong"), 5),
    {"0": (None, {}), "low_lr": (None, dict(algo=dict(learning_rate=4e-4)))},
)
ATARI_FF_PPO = _family(_pg(_PPO_ALGO, dict(game="pong"), 64), {"0": (None, {})})
ATARI_LSTM_A2C = _family(
    _pg(_PG_ALGO, dict(game="pong", num_img_obs=1), 20),
    {
        "0": (None, {}),
        "4frame": (
            None,
            dict(env=dict(num_img_obs=4), sampler=dict(batch_T=5, batch_B=16),
                 algo=dict(learning_rate=1e-4)),
        ),
        "like_ff": ("4frame", dict(algo=dict(learning_rate=7e-4, clip_grad_norm=1), sampler=dict(batch_B=32))),
    },
)  # fmt: skip
ATARI_LSTM_PPO = _family(_pg(_PPO_ALGO, dict(game="pong", num_img_obs=1), 64), {"0": (None, {})})

MUJOCO_A2C = _family(
    dict(
        agent=dict(),
        algo=dict(discount=0.99, learning_rate=3e-5, clip_grad_norm=1e6, entropy_loss_coeff=0.0,
                  value_loss_coeff=0.5, normalize_advantage=True),
        env=dict(id="Hopper-v5"), model=dict(), optim=dict(),
        runner=dict(n_steps=1e6, log_interval_steps=2e4),
        sampler=dict(batch_T=100, batch_B=8, max_decorrelation_steps=1000),
    ),
    {"a2c_1M": (None, {})},
)  # fmt: skip
_PPO_32EP = dict(sampler=dict(batch_B=8, batch_T=256), algo=dict(minibatches=1, epochs=32))
MUJOCO_PPO = _family(
    dict(
        agent=dict(),
        algo=dict(discount=0.99, learning_rate=3e-4, clip_grad_norm=1e6, entropy_loss_coeff=0.0,
                  gae_lambda=0.95, minibatches=32, epochs=10, ratio_clip=0.2,
                  normalize_advantage=True, linear_lr_schedule=True),
        env=dict(id="Hopper-v5"), model=dict(), optim=dict(),
        runner=dict(n_steps=1e6, log_interval_steps=2048 * 10),
        sampler=dict(batch_T=2048, batch_B=1, max_decorrelation_steps=0),
    ),
    {
        "ppo_1M_serial": (None, {}),
        "ppo_1M_cpu": (None, _PPO_32EP),  # the original edits this dict after naming it
        "ppo_32ep_1mb": (None, _PPO_32EP),
    },
)  # fmt: skip

_QPG_SAMPLER = dict(batch_T=1, batch_B=1, max_decorrelation_steps=0, eval_max_steps=int(51e3),
                    eval_max_trajectories=50)  # fmt: skip
MUJOCO_DDPG = _family(
    dict(
        agent=dict(model_kwargs=None, q_model_kwargs=None),
        algo=dict(discount=0.99, batch_size=100, replay_ratio=100, target_update_tau=0.01,
                  target_update_interval=1, policy_update_interval=1, learning_rate=1e-3,
                  q_learning_rate=1e-3),
        env=dict(id="Hopper-v5"), eval_env=dict(id="Hopper-v5"), optim=dict(),
        runner=dict(n_steps=1e6, log_interval_steps=1e4),
        sampler=dict(_QPG_SAMPLER, eval_n_envs=10),
    ),
    {"ddpg_from_td3_1M_serial": (None, {})},
)  # fmt: skip
MUJOCO_TD3 = _family(
    dict(
        agent=dict(model_kwargs=None, q_model_kwargs=None),
        algo=dict(discount=0.99, batch_size=100, replay_ratio=100, target_update_tau=0.005,
                  target_update_interval=2, policy_update_interval=2, learning_rate=1e-3,
                  q_learning_rate=1e-3),
        env=dict(id="Hopper-v5"), model=dict(), optim=dict(),
        runner=dict(n_steps=1e6, log_interval_steps=1e4),
        sampler=dict(_QPG_SAMPLER, eval_n_envs=6),
    ),
    {
        "td3_1M_serial": (None, {}),
        "td3_serial_bstl": (None, dict(algo=dict(bootstrap_timelimit=True))),
        "async_cpu": ("td3_serial_bstl", dict(sampler=dict(batch_T=5, batch_B=3), algo=dict(updates_per_sync=1))),
    },
)  # fmt: skip
MUJOCO_SAC = _family(
    dict(
        agent=dict(model_kwargs=None, q_model_kwargs=None, v_model_kwargs=None),
        algo=dict(discount=0.99, batch_size=256, replay_ratio=256, target_update_tau=0.01,
                  target_update_interval=1, learning_rate=3e-4, reparameterize=True,
                  reward_scale=10, target_entropy="auto"),
        env=dict(id="HalfCheetah-v5"), model=dict(), optim=dict(),
        runner=dict(n_steps=5e5, log_interval_steps=1e4, seed=None),
        sampler=dict(_QPG_SAMPLER, eval_n_envs=4),
    ),
    {
        "sac_1M_serial": (None, {}),
        "sac_serial_bstl": (None, dict(algo=dict(bootstrap_timelimit=True))),
    },
)  # fmt: skip
# The first SAC version's config (algos/qpg/sac_v.py, with a state-value network).
MUJOCO_SAC_V = _family(
    dict(
        agent=dict(model_kwargs=None, q_model_kwargs=None, v_model_kwargs=None),
        algo=dict(discount=0.99, batch_size=256, replay_ratio=256, target_update_tau=0.005,
                  target_update_interval=1, learning_rate=3e-4, reparameterize=True,
                  policy_output_regularization=0.001, reward_scale=5),
        env=dict(id="Hopper-v5"), model=dict(), optim=dict(),
        runner=dict(n_steps=1e6, log_interval_steps=1e4),
        sampler=dict(_QPG_SAMPLER, eval_n_envs=6),
    ),
    {
        "sac_1M_serial": (None, {}),
        "sac_serial_bstl": (None, dict(algo=dict(bootstrap_timelimit=True))),
        "async_gpu": ("sac_serial_bstl", dict(sampler=dict(batch_T=5, batch_B=3), algo=dict(updates_per_sync=1))),
    },
)  # fmt: skip

# file (under rlpyt/experiments/configs/) -> its named configs
FAMILIES = {
    "atari/dqn/atari_dqn.py": ATARI_DQN,
    "atari/dqn/atari_r2d1.py": ATARI_R2D1,
    "atari/pg/atari_ff_a2c.py": ATARI_FF_A2C,
    "atari/pg/atari_ff_ppo.py": ATARI_FF_PPO,
    "atari/pg/atari_lstm_a2c.py": ATARI_LSTM_A2C,
    "atari/pg/atari_lstm_ppo.py": ATARI_LSTM_PPO,
    "mujoco/pg/mujoco_a2c.py": MUJOCO_A2C,
    "mujoco/pg/mujoco_ppo.py": MUJOCO_PPO,
    "mujoco/qpg/mujoco_ddpg.py": MUJOCO_DDPG,
    "mujoco/qpg/mujoco_td3.py": MUJOCO_TD3,
    "mujoco/qpg/mujoco_sac.py": MUJOCO_SAC,
    "mujoco/qpg/mujoco_sac_v.py": MUJOCO_SAC_V,
}


def all_configs():
    """``[(file, name, config)]`` over every family."""
    return [(f, name, c) for f, configs in FAMILIES.items() for name, c in configs.items()]
