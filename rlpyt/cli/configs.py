"""Training configurations: nested dicts with per-env defaults, config files and ``--set``.

A config has the sections ``env``, ``sampler``, ``agent``, ``algo``, ``runner``
and ``logging``, plus ``algo_name`` (a planner's config: :mod:`rlpyt.cli.planning`); IMPALA and
APPO configs also have ``scheme`` (the workers of ``--runner scheme``: :mod:`rlpyt.cli.scheme`).
:func:`default_config` gives good settings for an algorithm on an env; :func:`~rlpyt.cli.config_files.config_from_file` updates them from a
YAML or JSON file of the same shape; :func:`~rlpyt.cli.overrides.apply_override` changes one
value by its dotted path (``algo.learning_rate=3e-4``). Unknown keys are refused with the
closest match, by :func:`rlpyt.utils.launching.variant.update_config` in both cases. The
runner and sampler kinds (``runner.kind``, ``sampler.kind``): :mod:`rlpyt.cli.runners`.
"""

# Re-exported: these lived here before rlpyt.cli.overrides and rlpyt.cli.runners existed.
from rlpyt.cli.env_backends import default_env_backend
from rlpyt.cli.overrides import apply_override, apply_overrides, flatten
from rlpyt.cli.pearl import META_ALGOS, is_meta, pearl_default_config
from rlpyt.cli.planning import PLANNERS, is_planner, planning_default_config
from rlpyt.cli.runners import RUNNER_KINDS, SAMPLER_KINDS
from rlpyt.cli.scheme import scheme_section

__all__ = [
    "default_config",
    "apply_override",
    "apply_overrides",
    "flatten",
    "ATARI_GAMES_HINT",
    "ALGOS",
    "MODEL_FREE_ALGOS",
    "RUNNER_KINDS",
    "SAMPLER_KINDS",
]

ATARI_GAMES_HINT = "an ale-py game name such as pong, breakout, space_invaders"

# RL Zoo's tuned PPO for CartPole-v1 (also the benchmark's settings): 8 envs x 32 steps.
_PPO_CARTPOLE = dict(
    discount=0.98,
    learning_rate=1e-3,
    gae_lambda=0.8,
    epochs=20,
    minibatches=1,
    ratio_clip=0.2,
    entropy_loss_coeff=0.0,
    value_loss_coeff=0.5,
    linear_lr_schedule=True,
    normalize_advantage=True,
    clip_grad_norm=0.5,
    # SB3's Adam eps for PPO, which RL Zoo tuned with (torch's default is 1e-8).
    optim_kwargs=dict(eps=1e-5),
)
# Chosen by a sweep over 8 seeds (docs/benchmarks.md): 7 reach 475 within 100k steps.
_A2C_CARTPOLE = dict(
    discount=0.99,
    learning_rate=5e-3,
    gae_lambda=0.95,
    value_loss_coeff=0.5,
    entropy_loss_coeff=0.0,
    clip_grad_norm=0.5,
    normalize_advantage=True,
    linear_lr_schedule=True,
)
_PPO_CONTINUOUS = dict(
    discount=0.99,
    learning_rate=3e-4,
    gae_lambda=0.95,
    epochs=10,
    minibatches=32,
    ratio_clip=0.2,
    entropy_loss_coeff=0.0,
    value_loss_coeff=0.5,
    linear_lr_schedule=True,
    normalize_advantage=True,
    clip_grad_norm=0.5,
)
_A2C_CONTINUOUS = dict(
    discount=0.99,
    learning_rate=7e-4,
    gae_lambda=0.95,
    value_loss_coeff=0.5,
    entropy_loss_coeff=0.0,
    clip_grad_norm=0.5,
    normalize_advantage=True,
    linear_lr_schedule=True,
)
_PPO_ATARI = dict(
    discount=0.99,
    learning_rate=2.5e-4,
    gae_lambda=0.95,
    epochs=4,
    minibatches=4,
    ratio_clip=0.1,
    entropy_loss_coeff=0.01,
    value_loss_coeff=1.0,
    linear_lr_schedule=True,
    clip_grad_norm=0.5,
)
_A2C_ATARI = dict(
    discount=0.99,
    learning_rate=7e-4,
    value_loss_coeff=0.5,
    entropy_loss_coeff=0.01,
    clip_grad_norm=0.5,
)

# DQN for CartPole-v1: RL Zoo's set (batch 64, buffer 1e5, learning from 1000 steps, the target
# copied before each round of gradient steps, epsilon 1 -> 0.04 over ~8000 steps, [256, 256]
# ReLU net, Huber loss, gradient clip 10) made stable by double Q-learning, 3-step returns, a
# lower learning rate (5e-4, not 2.3e-3) and half the replay ratio (16, not 32): RL Zoo's exact
# set peaked at 350-420 and collapsed here, in rlpyt and in SB3 alike (docs/benchmarks.md).
_DQN_CARTPOLE = dict(
    discount=0.99,
    batch_size=64,
    min_steps_learn=1000,
    replay_size=100_000,
    replay_ratio=16,
    target_update_interval=128,  # a copy every 2nd 256-step iteration (64 gradient steps each)
    n_step_return=3,
    learning_rate=5e-4,
    clip_grad_norm=10.0,
    eps_steps=7000,  # reached at 8000 env steps: annealing starts after min_steps_learn
    double_dqn=True,
    prioritized_replay=False,
)
_CAT_DQN_CARTPOLE = dict(_DQN_CARTPOLE, V_min=0.0, V_max=100.0, double_dqn=True)
_R2D1_CARTPOLE = dict(
    discount=0.99,
    batch_T=20,
    batch_B=16,
    warmup_T=10,
    store_rnn_state_interval=10,
    min_steps_learn=2000,
    replay_size=50_000,
    replay_ratio=4,
    target_update_interval=100,
    n_step_return=3,
    learning_rate=1e-3,
    clip_grad_norm=10.0,
    eps_steps=10_000,
)
# The original rlpyt's Atari settings (Nature DQN with Adam).
_DQN_ATARI = dict(
    discount=0.99,
    batch_size=32,
    min_steps_learn=int(5e4),
    replay_size=int(1e6),
    replay_ratio=8,
    target_update_interval=312,
    learning_rate=2.5e-4,
    clip_grad_norm=10.0,
    eps_steps=int(1e6),
)
_CAT_DQN_ATARI = dict(_DQN_ATARI, V_min=-10.0, V_max=10.0, n_step_return=3, double_dqn=True)
_R2D1_ATARI = dict(
    discount=0.997,
    batch_T=80,
    batch_B=64,
    warmup_T=40,
    store_rnn_state_interval=40,
    min_steps_learn=int(1e5),
    replay_size=int(1e6),
    replay_ratio=1,
    target_update_interval=2500,
    n_step_return=5,
    learning_rate=1e-4,
    clip_grad_norm=80.0,
)
# Q-function policy gradient. Classic control (Pendulum-v1, MountainCarContinuous-v0): one
# gradient step per env step from 1000 steps on; MuJoCo: the original papers' settings.
_QPG_CLASSIC = {
    "sac": dict(
        discount=0.99,
        batch_size=256,
        min_steps_learn=1000,
        replay_size=int(2e5),
        replay_ratio=256,
        learning_rate=1e-3,
        target_update_tau=0.005,
    ),
    "td3": dict(
        discount=0.98,
        batch_size=256,
        min_steps_learn=1000,
        replay_size=int(2e5),
        replay_ratio=256,
        mu_learning_rate=1e-3,
        q_learning_rate=1e-3,
    ),
    "ddpg": dict(
        discount=0.98,
        batch_size=256,
        min_steps_learn=1000,
        replay_size=int(2e5),
        replay_ratio=256,
        learning_rate=1e-3,
        q_learning_rate=1e-3,
        target_update_tau=0.005,
    ),
}
_QPG_MUJOCO = {
    "sac": dict(batch_size=256, min_steps_learn=int(1e4), replay_ratio=256, learning_rate=3e-4),
    "td3": dict(batch_size=100, min_steps_learn=int(1e4), replay_ratio=100),
    "ddpg": dict(batch_size=64, min_steps_learn=int(1e4), replay_ratio=64),
}
MODEL_FREE_ALGOS = ("a2c", "ppo", "impala", "appo", "dqn", "cat_dqn", "r2d1", "ddpg", "td3", "sac")
# Planners (rlpyt.cli.planning): searches with a model of the env, trained from search.
ALGOS = MODEL_FREE_ALGOS + tuple(PLANNERS) + META_ALGOS
_DQN_FAMILY = ("dqn", "cat_dqn", "r2d1")
_VTRACE_FAMILY = ("impala", "appo")
_QPG_FAMILY = ("ddpg", "td3", "sac")
CLASSIC_CONTINUOUS = ("Pendulum-v1", "MountainCarContinuous-v0")

CLASSIC_DISCRETE = ("CartPole-v1", "CartPole-v0", "Acrobot-v1", "MountainCar-v0")


def env_kind(env_id: str) -> str:
    """``"atari"`` for ale-py game names, ``"discrete"`` or ``"continuous"`` for gymnasium ids."""
    if "-v" not in env_id and env_id.replace("_", "").isalnum() and env_id.islower():
        return "atari"
    if env_id in CLASSIC_DISCRETE:
        return "discrete"
    import gymnasium

    if env_id.startswith("rlpyt/"):
        import rlpyt.envs.planning  # noqa: F401 - registers the rlpyt/... ids

    try:
        spec = gymnasium.spec(env_id)
    except Exception as err:
        raise ValueError(
            f"unknown env {env_id!r}: not a gymnasium id ({err}) and not {ATARI_GAMES_HINT}"
        ) from None
    env = gymnasium.make(spec.id)
    try:
        discrete = isinstance(env.action_space, gymnasium.spaces.Discrete)
    finally:
        env.close()
    return "discrete" if discrete else "continuous"


def _dqn_family_config(algo: str, env_id: str, kind: str):
    """``(sampler, agent, algo, runner)`` sections of the Q-learning algorithms."""
    if kind == "continuous":
        raise ValueError(
            f"--algo {algo} needs discrete actions, but {env_id} has continuous ones: "
            "use a2c or ppo"
        )
    atari = kind == "atari"
    prefix = "atari_" if atari else ""
    suffix = "" if atari else "_mlp"
    agent_name = {"dqn": "dqn", "cat_dqn": "catdqn", "r2d1": "r2d1"}[algo]
    agent = {"name": f"{prefix}{agent_name}{suffix}", "model_kwargs": {}, "kwargs": {}}
    if atari:
        algo_kwargs = {"dqn": _DQN_ATARI, "cat_dqn": _CAT_DQN_ATARI, "r2d1": _R2D1_ATARI}[algo]
        sampler = dict(batch_T=40 if algo == "r2d1" else 4, batch_B=8, max_decorrelation_steps=0)
        runner = dict(n_steps=int(10e6), log_interval_steps=int(1e5), torch_threads=None)
    else:
        algo_kwargs = {"dqn": _DQN_CARTPOLE, "cat_dqn": _CAT_DQN_CARTPOLE, "r2d1": _R2D1_CARTPOLE}
        algo_kwargs = algo_kwargs[algo]
        # 256 env steps per iteration: one round of gradient steps per 256 steps, as RL Zoo.
        sampler = dict(batch_T=20 if algo == "r2d1" else 32, batch_B=8, max_decorrelation_steps=0)
        agent["kwargs"] = {"eps_final": 0.04, "eps_eval": 0.0}
        runner = dict(n_steps=int(1e5), log_interval_steps=int(1e4), torch_threads=1)
    # Weights to an async sampler every this many updates (--runner async); 1 as the original.
    return sampler, agent, dict(algo_kwargs, updates_per_sync=1), runner


def _qpg_config(algo: str, env_id: str, kind: str):
    """``(sampler, agent, algo, runner)`` sections of DDPG, TD3 and SAC."""
    if kind != "continuous":
        raise ValueError(
            f"--algo {algo} needs continuous actions (a Box action space), but {env_id} has "
            "discrete ones: use dqn, cat_dqn, r2d1, a2c or ppo"
        )
    agent = {"name": algo, "model_kwargs": {}, "q_model_kwargs": {}, "kwargs": {}}
    if env_id in CLASSIC_CONTINUOUS:
        algo_kwargs = dict(_QPG_CLASSIC[algo])
        hidden = [256, 256]
        agent["model_kwargs"] = {"hidden_sizes": hidden}
        agent["q_model_kwargs"] = {"hidden_sizes": hidden}
        if algo != "sac":
            agent["kwargs"] = {"action_std": 0.1}
        runner = dict(n_steps=20_000, log_interval_steps=2000, torch_threads=1)
    else:
        algo_kwargs = dict(_QPG_MUJOCO[algo])
        runner = dict(n_steps=int(1e6), log_interval_steps=int(1e4), torch_threads=1)
    sampler = dict(batch_T=50, batch_B=1, max_decorrelation_steps=0)
    return sampler, agent, dict(algo_kwargs, updates_per_sync=1), runner


# IMPALA/APPO on Atari: TorchBeast monobeast's settings (baseline cost 0.5, entropy cost 0.0006,
# RMSprop lr 4.8e-4 alpha 0.99 eps 0.01 decayed linearly, gradient-norm clip 40, unrolls of 80
# steps, batches of 8); AtariEnv clips rewards to their sign. APPO: RLlib's clip 0.4.
_IMPALA_ATARI = dict(
    discount=0.99,
    learning_rate=4.8e-4,
    value_loss_coeff=0.5,
    entropy_loss_coeff=0.0006,
    clip_grad_norm=40.0,
    linear_lr_schedule=True,
    clip_rho_threshold=1.0,
    clip_c_threshold=1.0,
    clip_pg_rho_threshold=1.0,
    trace_lambda=1.0,
)
_APPO_ATARI = dict(_IMPALA_ATARI, ratio_clip=0.4, epochs=1, minibatches=1)
# CartPole-v1: tuned on seed 1 (docs/benchmarks.md); the losses are sums over the batch.
_IMPALA_CARTPOLE = dict(_IMPALA_ATARI, learning_rate=2e-3, entropy_loss_coeff=0.0)
_APPO_CARTPOLE = dict(_IMPALA_CARTPOLE, ratio_clip=0.2, epochs=4, minibatches=4)
_VTRACE_ATARI = {"impala": _IMPALA_ATARI, "appo": _APPO_ATARI}
_VTRACE_CARTPOLE = {"impala": _IMPALA_CARTPOLE, "appo": _APPO_CARTPOLE}


def _vtrace_config(algo: str, env_id: str, kind: str):
    """``(sampler, agent, algo, runner)`` sections of IMPALA and APPO."""
    if kind == "atari":
        sampler = dict(batch_T=80, batch_B=8, max_decorrelation_steps=1000)
        agent = {"name": "atari_ff", "model_kwargs": {}}
        runner = dict(n_steps=int(10e6), log_interval_steps=int(1e5), torch_threads=None)
        return sampler, agent, dict(_VTRACE_ATARI[algo]), runner
    if kind == "discrete":
        # IMPALA: 32 envs x 20 steps (16 envs at lr 1e-3 plateaued near 400 on seed 1).
        batch_B = 32 if algo == "impala" else 16
        sampler = dict(batch_T=20, batch_B=batch_B, max_decorrelation_steps=100)
        agent = {"name": "mlp_ff", "model_kwargs": {}}
        runner = dict(n_steps=int(3e5), log_interval_steps=int(1e4), torch_threads=1)
        return sampler, agent, dict(_VTRACE_CARTPOLE[algo]), runner
    # Continuous actions: monobeast's settings with a Gaussian MLP agent (not tuned).
    sampler = dict(batch_T=80, batch_B=8, max_decorrelation_steps=100)
    agent = {"name": "mujoco_ff", "model_kwargs": {"normalize_observation": True}}
    runner = dict(n_steps=int(1e6), log_interval_steps=int(2e4), torch_threads=1)
    return sampler, agent, dict(_VTRACE_ATARI[algo]), runner


def default_config(algo: str, env_id: str) -> dict:
    """Settings that train ``algo`` (one of :data:`ALGOS`) well on ``env_id``."""
    if algo not in ALGOS:
        raise ValueError(f"--algo must be one of {', '.join(ALGOS)}; got {algo!r}")
    if is_planner(algo):
        return planning_default_config(algo, env_id)
    if is_meta(algo):
        return pearl_default_config(algo, env_id)
    kind = env_kind(env_id)
    if algo in _DQN_FAMILY:
        env = {"id": env_id, "kwargs": {}}
        sampler, agent, algo_kwargs, runner = _dqn_family_config(algo, env_id, kind)
    elif algo in _QPG_FAMILY:
        env = {"id": env_id, "kwargs": {}}
        sampler, agent, algo_kwargs, runner = _qpg_config(algo, env_id, kind)
    elif algo in _VTRACE_FAMILY:
        env = {"id": env_id, "kwargs": {}}
        sampler, agent, algo_kwargs, runner = _vtrace_config(algo, env_id, kind)
    elif kind == "atari":
        env = {"id": env_id, "kwargs": {}}
        sampler = dict(
            batch_T=128 if algo == "ppo" else 5,
            batch_B=8 if algo == "ppo" else 16,
            max_decorrelation_steps=1000,
        )
        agent = {"name": "atari_ff", "model_kwargs": {}}
        algo_kwargs = dict(_PPO_ATARI if algo == "ppo" else _A2C_ATARI)
        runner = dict(n_steps=int(10e6), log_interval_steps=int(1e5), torch_threads=None)
    elif kind == "discrete":
        env = {"id": env_id, "kwargs": {}}
        sampler = dict(
            # A2C: 16 envs x 16 steps; shorter batches made its updates too noisy.
            batch_T=32 if algo == "ppo" else 16,
            batch_B=8 if algo == "ppo" else 16,
            max_decorrelation_steps=100,
        )
        agent = {"name": "mlp_ff", "model_kwargs": {}}
        algo_kwargs = dict(_PPO_CARTPOLE if algo == "ppo" else _A2C_CARTPOLE)
        # Small MLPs: one torch thread is fastest (more threads only contend).
        runner = dict(n_steps=int(1e5), log_interval_steps=int(1e4), torch_threads=1)
    else:
        env = {"id": env_id, "kwargs": {}}
        sampler = dict(
            batch_T=256 if algo == "ppo" else 8,
            batch_B=8 if algo == "ppo" else 16,
            max_decorrelation_steps=100,
        )
        agent = {"name": "mujoco_ff", "model_kwargs": {"normalize_observation": True}}
        algo_kwargs = dict(_PPO_CONTINUOUS if algo == "ppo" else _A2C_CONTINUOUS)
        runner = dict(n_steps=int(1e6), log_interval_steps=int(2e4), torch_threads=1)
    sampler.update(
        # kind: serial | cpu | gpu | alternating | ray; workers: parallel worker processes or
        # Ray actors (None: one per usable CPU core, as os.sched_getaffinity counts them).
        kind="serial",
        workers=None,
        collector="reset",
        eval_n_envs=0,
        eval_max_steps=None,
        eval_max_trajectories=None,
    )
    # kind: minibatch | async | actor_learner | sync | scheme; learners: the sync runner's learner processes;
    # reproducible: the same results on any x86-64 machine (rlpyt.utils.reproducible).
    runner.update(seed=None, eval=False, kind="minibatch", learners=2, reproducible=False)
    # backend: python | gym_vector | envpool (rlpyt.cli.env_backends); the fastest that
    # gives the python backend's samples (Atari: python; envpool is faster, its runs differ).
    env["backend"] = default_env_backend(env_id, kind)
    # compile: the agent's networks through torch.compile (True: inductor; or a backend name).
    agent["compile"] = False
    config = {
        "algo_name": algo,
        "env": env,
        "sampler": sampler,
        "agent": agent,
        "algo": algo_kwargs,
        "runner": runner,
        "logging": {
            "log_dir": "data/local",
            "run_ID": 0,
            "snapshot_mode": "last",
            "use_summary_writer": False,
        },
    }
    if algo in _VTRACE_FAMILY:
        # The workers and links of runner.kind='scheme' (rlpyt.cli.scheme).
        config["scheme"] = scheme_section()
    return config
