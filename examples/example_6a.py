"""
The run script of example_6: trains one run of one setting of the grid. The launcher
(rlpyt.utils.launching.exp_launcher.run_experiments) starts it once per run, as

    python examples/example_6a.py SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY

SLOT_AFFINITY_CODE places the run on its run slot's CPU cores (and GPU, if any); LOG_DIR is the
directory of the run's setting, where the launcher saved the setting's variant (the values that
differ from the default config CONFIGS[CONFIG_KEY]); the run logs into LOG_DIR/run_{RUN_ID}.
When that directory holds a snapshot (the run was interrupted), training resumes from it.
"""

import sys

from rlpyt.agents.pg.mlp import MlpFfAgent
from rlpyt.algos.pg.a2c import A2C
from rlpyt.algos.pg.ppo import PPO
from rlpyt.envs.gym import gym_make
from rlpyt.runners.minibatch_rl import MinibatchRl, Preempted
from rlpyt.samplers.serial.sampler import SerialSampler
from rlpyt.utils.launching.exp_launcher import resume_point, slot_affinity
from rlpyt.utils.launching.variant import load_variant, update_config
from rlpyt.utils.logging.context import logger_context

# The default configs; a variant may change any of their values (and no other key).
CONFIGS = dict(
    ppo=dict(
        algo_name="ppo",
        env=dict(id="CartPole-v1"),
        # batch_T steps of batch_B envs per iteration.
        sampler=dict(batch_T=32, batch_B=8, max_decorrelation_steps=100),
        algo=dict(
            discount=0.98,
            learning_rate=1e-3,
            gae_lambda=0.8,
            epochs=10,
            minibatches=1,
            ratio_clip=0.2,
            entropy_loss_coeff=0.0,
            value_loss_coeff=0.5,
            linear_lr_schedule=True,
            normalize_advantage=True,
            clip_grad_norm=0.5,
        ),
        runner=dict(n_steps=50_000, log_interval_steps=5_000),
    ),
    a2c=dict(
        algo_name="a2c",
        env=dict(id="CartPole-v1"),
        sampler=dict(batch_T=16, batch_B=16, max_decorrelation_steps=100),
        algo=dict(
            discount=0.99,
            learning_rate=5e-3,
            gae_lambda=0.95,
            value_loss_coeff=0.5,
            entropy_loss_coeff=0.0,
            clip_grad_norm=0.5,
            normalize_advantage=True,
            linear_lr_schedule=True,
        ),
        runner=dict(n_steps=50_000, log_interval_steps=5_000),
    ),
)
ALGOS = dict(ppo=PPO, a2c=A2C)


def build_and_train(slot_affinity_code, log_dir, run_ID, config_key):
    # Core indices in the code count the launcher's CPUs, so this also works when the launcher
    # pinned this process to its slot (rlpyt.utils.launching.affinity_from_code otherwise).
    affinity = slot_affinity(slot_affinity_code)
    config = update_config(CONFIGS[config_key], load_variant(log_dir))
    resume_from = resume_point(log_dir, run_ID)  # None: no snapshot yet, start afresh

    sampler = SerialSampler(
        EnvCls=gym_make,
        env_kwargs=dict(id=config["env"]["id"]),
        **config["sampler"],
    )
    algo = ALGOS[config["algo_name"]](**config["algo"])
    agent = MlpFfAgent()
    runner = MinibatchRl(
        algo=algo,
        agent=agent,
        sampler=sampler,
        n_steps=config["runner"]["n_steps"],
        log_interval_steps=config["runner"]["log_interval_steps"],
        seed=run_ID,  # the runs of a setting differ by their seed
        affinity=affinity,  # pins this process to the slot's cores, sets torch's threads
        resume_from=resume_from,
        progress_bar=False,  # the output goes to a log file
    )
    name = f"{config['algo_name']}_{config['env']['id']}"
    with logger_context(
        log_dir, run_ID, name, config, snapshot_mode="last", resume=resume_from is not None
    ):
        runner.train()


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[4] not in CONFIGS:
        sys.exit(
            f"usage: {sys.argv[0]} SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY "
            f"(CONFIG_KEY one of {', '.join(CONFIGS)}); started by examples/example_6.py"
        )
    try:
        build_and_train(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
    except Preempted as err:  # SIGTERM from the launcher: a snapshot was saved
        print(f"preempted: {err}", file=sys.stderr)
        sys.exit(143)
