"""MuJoCo Q-function policy gradient: DDPG, TD3 and SAC.

The settings of the original rlpyt's ``experiments/configs/mujoco/qpg/`` (the white paper's
MuJoCo figure): one env stepped once per iteration, learning from 10k steps on, 1M env steps,
evaluated every 10k steps on separate envs (at most 51k steps or 50 episodes):

- ``ddpg``: DDPG as re-tuned in the TD3 paper (Fujimoto et al. 2018, "our DDPG"): batch 100,
  one update per env step, Adam 1e-3 for actor and critic, soft target updates tau 0.01,
  Gaussian exploration noise 0.1; 10 eval envs.
- ``td3``: TD3 (Fujimoto et al. 2018): as above with twin critics, target policy smoothing,
  actor and targets updated every second update, tau 0.005; 6 eval envs.
- ``sac``: SAC (Haarnoja et al. 2018) with the automatic entropy temperature (target entropy
  -|A|) of its second version, batch 256, Adam 3e-4, tau 0.005; 6 eval envs. The original
  config carried options of the first version (a state-value network, reward scale 5) that
  this SAC no longer has.
"""

from experiments.configs import derive

__all__ = ["ENVS", "configs", "tiny"]

ENVS = ("Hopper-v5", "Swimmer-v5", "HalfCheetah-v5", "Walker2d-v5", "Ant-v5", "Humanoid-v5")


def _config(agent: dict, algo: dict, eval_n_envs: int) -> dict:
    return dict(
        agent=dict(agent),
        model=dict(),
        algo=dict(discount=0.99, min_steps_learn=int(1e4), replay_size=int(1e6), **algo),
        optim=dict(),
        env=dict(id="Hopper-v5"),
        eval_env=dict(id="Hopper-v5"),
        sampler=dict(
            batch_T=1,
            batch_B=1,
            max_decorrelation_steps=0,
            eval_n_envs=eval_n_envs,
            eval_max_steps=int(51e3),
            eval_max_trajectories=50,
        ),
        runner=dict(n_steps=int(1e6), log_interval_steps=int(1e4), seed=None),
    )


configs = {
    "ddpg": _config(
        agent=dict(action_std=0.1),
        algo=dict(
            batch_size=100,
            replay_ratio=100,
            target_update_tau=0.01,
            target_update_interval=1,
            policy_update_interval=1,
            learning_rate=1e-3,
            q_learning_rate=1e-3,
        ),
        eval_n_envs=10,
    ),
    "td3": _config(
        agent=dict(),
        algo=dict(
            batch_size=100,
            replay_ratio=100,
            target_update_tau=0.005,
            target_update_interval=2,
            policy_update_interval=2,
            mu_learning_rate=1e-3,
            q_learning_rate=1e-3,
        ),
        eval_n_envs=6,
    ),
    "sac": _config(
        agent=dict(),
        algo=dict(
            batch_size=256,
            replay_ratio=256,
            target_update_tau=0.005,
            target_update_interval=1,
            learning_rate=3e-4,
            target_entropy="auto",
        ),
        eval_n_envs=6,
    ),
}

# 16 iterations of one step, logged every 8; learning from step 8 on with one update of 4
# samples per step; evaluations of 10 steps on one env.
_TINY = dict(
    algo=dict(batch_size=4, replay_ratio=4, min_steps_learn=8, replay_size=100),
    sampler=dict(eval_n_envs=1, eval_max_steps=10, eval_max_trajectories=1),
    runner=dict(n_steps=16, log_interval_steps=8),
)


def tiny(config: dict) -> dict:
    """``config`` cut down to 16 env steps, 8 of them with an update."""
    return derive(config, _TINY)
