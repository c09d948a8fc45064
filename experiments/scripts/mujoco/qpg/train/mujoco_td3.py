"""One MuJoCo TD3 run (config ``td3``), sampling serially in the training process.

Its components: ``TRAIN['mujoco_td3']`` in :mod:`experiments.train_specs`. Started by
``python -m experiments.run`` (see :mod:`experiments.training`) as::

    python -m experiments.scripts.mujoco.qpg.train.mujoco_td3 SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

from experiments.training import main

if __name__ == "__main__":
    main("mujoco_td3")
