"""MuJoCo policy gradient: PPO.

``ppo``: the original rlpyt's ``ppo_1M_serial`` (``experiments/configs/mujoco/pg/mujoco_ppo.py``),
the PPO paper's MuJoCo settings (Schulman et al. 2017): one env, 2048 steps per iteration, 10
epochs of 32 minibatches, ratio clip 0.2, GAE lambda 0.95, Adam 3e-4 decayed linearly to 0,
normalized advantages, no entropy bonus; the Gaussian MLP agent (``MujocoFfAgent``); 1M env
steps, logged every 10 iterations. Serial sampling, as in the paper's runs.
"""

from experiments.configs import derive

__all__ = ["ENVS", "configs", "tiny"]

# The white paper's MuJoCo figure, with gymnasium's current versions of the envs (v5; the
# paper ran gym's v3).
ENVS = ("Hopper-v5", "Swimmer-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5")

configs = {
    "ppo": dict(
        agent=dict(),
        model=dict(),
        algo=dict(
            discount=0.99,
            learning_rate=3e-4,
            clip_grad_norm=1e6,  # effectively none
            entropy_loss_coeff=0.0,
            gae_lambda=0.95,
            minibatches=32,
            epochs=10,
            ratio_clip=0.2,
            normalize_advantage=True,
            linear_lr_schedule=True,
        ),
        optim=dict(),
        env=dict(id="Hopper-v5"),
        sampler=dict(batch_T=2048, batch_B=1, max_decorrelation_steps=0),
        runner=dict(n_steps=int(1e6), log_interval_steps=2048 * 10, seed=None),
    ),
}

# One logged iteration of 16 steps: one epoch of 2 minibatches.
_TINY = dict(
    algo=dict(epochs=1, minibatches=2),
    sampler=dict(batch_T=16),
    runner=dict(n_steps=16, log_interval_steps=16),
)


def tiny(config: dict) -> dict:
    """``config`` cut down to one logged iteration of 16 env steps."""
    return derive(config, _TINY)
