"""Atari R2D1: recurrent DQN from replayed sequences (R2D2, Kapturowski et al. 2019, one learner).

The settings of the original rlpyt's ``experiments/configs/atari/dqn/atari_r2d1.py``:

- ``r2d1``: the basic setup, 100M env steps. A dueling LSTM network trained on sequences of
  80 steps after a 40-step burn-in, 32 sequences per batch, from a prioritized replay (alpha
  0.9, beta 0.6) with 5-step double-Q targets under value rescaling, discount 0.997, Adam
  1e-4, gradients clipped at 80; rewards not clipped; 32 envs with episodic lives.
- ``r2d1_long``: the white paper's R2D2 reproduction, ~10B frames: 64 sequences per batch,
  one replayed sample per env step, a 4M-transition replay, 192 envs without episodic lives
  and a per-env exploration epsilon log-spaced from 0.1 to 0.0005 (Ape-X style).

Departure from the original: the sampler runs 40 steps per iteration in both setups (the
original's basic setup ran 30). Here the stored RNN states must line up with the sampler's
batches, so ``batch_T`` is a multiple of ``store_rnn_state_interval`` (40).
"""

from experiments.configs import derive

__all__ = ["GAMES", "LONG_GAMES", "configs", "tiny"]

GAMES = ("pong", "seaquest", "qbert", "chopper_command")
# The games of the white paper's R2D1 figure (the long runs).
LONG_GAMES = ("amidar", "asteroids", "chopper_command", "gravitar", "qbert", "seaquest")

_R2D1 = dict(
    agent=dict(eps_init=1.0, eps_final=0.01, eps_final_min=None, eps_eval=0.001),
    model=dict(dueling=True),
    algo=dict(
        discount=0.997,
        batch_T=80,
        batch_B=32,  # 64 in the R2D2 paper
        warmup_T=40,
        store_rnn_state_interval=40,
        replay_size=int(1e6),
        replay_ratio=4,
        learning_rate=1e-4,
        clip_grad_norm=80.0,
        min_steps_learn=int(1e5),
        eps_steps=int(1e6),
        double_dqn=True,
        prioritized_replay=True,
        n_step_return=5,
        pri_alpha=0.9,
        pri_beta_init=0.6,
        pri_beta_final=0.6,
        input_priority_shift=2,
    ),
    optim=dict(),
    env=dict(game="pong", episodic_lives=True, clip_reward=False, horizon=int(27e3)),
    eval_env=dict(game="pong", episodic_lives=False, clip_reward=False, horizon=int(27e3)),
    sampler=dict(
        batch_T=40,
        batch_B=32,
        max_decorrelation_steps=1000,
        eval_n_envs=4,
        eval_max_steps=int(161e3),
        eval_max_trajectories=100,
    ),
    runner=dict(n_steps=int(100e6), log_interval_steps=int(1e6), seed=None),
)

configs = {
    "r2d1": _R2D1,
    "r2d1_long": derive(
        _R2D1,
        {
            "agent": {"eps_final": 0.1, "eps_final_min": 0.0005},
            "algo": {"batch_B": 64, "replay_ratio": 1, "replay_size": int(4e6)},
            "env": {"episodic_lives": False},
            "sampler": {
                "batch_B": 192,  # one update per iteration: 40 x 192 = 80 x 64 x 1 / 1
                "eval_n_envs": 6,
                "eval_max_steps": int(6 * 28e3),
            },
            # 10B frames (frame skip 4); the original ran "until stopped" (n_steps 20e9).
            "runner": {"n_steps": int(2.5e9), "log_interval_steps": int(10e6)},
        },
    ),
}

# Two iterations of 2 envs x 8 steps; sequences of 4 trained steps after a 2-step burn-in
# (RNN states stored every 4 steps); the second iteration learns once from 2 sequences.
_TINY = dict(
    agent=dict(eps_final_min=None),
    algo=dict(
        batch_T=4,
        batch_B=2,
        warmup_T=2,
        store_rnn_state_interval=4,
        replay_size=1000,
        replay_ratio=0.5,  # 0.5 x 16 steps / (4 x 2) = 1 update per iteration
        min_steps_learn=16,
        eps_steps=16,
        n_step_return=2,
        input_priority_shift=1,
    ),
    sampler=dict(
        batch_T=8,
        batch_B=2,
        max_decorrelation_steps=0,
        eval_n_envs=2,  # as many as envs: every worker (at most one per env) evaluates
        eval_max_steps=20,
        eval_max_trajectories=2,
    ),
    runner=dict(n_steps=32, log_interval_steps=16),
)


def tiny(config: dict) -> dict:
    """``config`` cut down to two iterations of 16 env steps, one update in the second."""
    return derive(config, _TINY)
