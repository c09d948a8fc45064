"""Atari policy gradient: A2C and PPO with feed-forward and LSTM agents.

The settings of the original rlpyt's ``experiments/configs/atari/pg/`` (the white paper's
policy-gradient Atari figure), 50M env steps (200M frames) each:

- ``ff_a2c``: A2C (Mnih et al. 2016, synchronous), 32 envs x 5 steps, Adam 7e-4, value loss
  0.5, entropy bonus 0.01, gradients clipped at 1; 4 stacked frames.
- ``ff_ppo``: PPO (Schulman et al. 2017), 32 envs x 64 steps, Adam 1e-3 decayed linearly to
  0, GAE lambda 0.98, 4 epochs of 4 minibatches, ratio clip 0.1, value loss 1, entropy 0.01.
- ``lstm_a2c``: A2C with the LSTM agent seeing one frame per step, 32 envs x 20 steps.
- ``lstm_ppo``: PPO with the LSTM agent seeing one frame per step, 32 envs x 64 steps.

The agents are the Atari ``AtariFfAgent`` / ``AtariLstmAgent``; the run scripts are
``scripts/atari/pg/train/atari_{ff,lstm}_{a2c,ppo}.py``.
"""

from experiments.configs import derive

__all__ = ["GAMES", "configs", "tiny"]

GAMES = ("pong", "seaquest", "qbert", "chopper_command")

_A2C = dict(
    discount=0.99,
    learning_rate=7e-4,
    value_loss_coeff=0.5,
    entropy_loss_coeff=0.01,
    clip_grad_norm=1.0,
)
_PPO = dict(
    discount=0.99,
    learning_rate=1e-3,
    value_loss_coeff=1.0,
    entropy_loss_coeff=0.01,
    clip_grad_norm=1.0,
    gae_lambda=0.98,
    linear_lr_schedule=True,
    epochs=4,
    minibatches=4,
    ratio_clip=0.1,
)


def _config(algo: dict, batch_T: int, num_img_obs: int) -> dict:
    return dict(
        agent=dict(),
        model=dict(),
        algo=dict(algo),
        optim=dict(),
        env=dict(game="pong", num_img_obs=num_img_obs),
        sampler=dict(batch_T=batch_T, batch_B=32, max_decorrelation_steps=1000),
        runner=dict(n_steps=int(50e6), log_interval_steps=int(1e5), seed=None),
    )


configs = {
    "ff_a2c": _config(_A2C, batch_T=5, num_img_obs=4),
    "ff_ppo": _config(_PPO, batch_T=64, num_img_obs=4),
    "lstm_a2c": _config(_A2C, batch_T=20, num_img_obs=1),
    "lstm_ppo": _config(_PPO, batch_T=64, num_img_obs=1),
}

# One iteration of 2 envs x 5 steps, logged; PPO: one epoch of 2 minibatches (whole
# sequences for the LSTM agent: one env each).
_TINY = dict(
    sampler=dict(batch_T=5, batch_B=2, max_decorrelation_steps=0),
    runner=dict(n_steps=10, log_interval_steps=10),
)
_TINY_PPO = derive(_TINY, {"algo": {"epochs": 1, "minibatches": 2}}, new_keys=("algo",))


def tiny(config: dict) -> dict:
    """``config`` cut down to one logged iteration of 10 env steps."""
    return derive(config, _TINY_PPO if "minibatches" in config["algo"] else _TINY)
