"""One Atari R2D1 run (configs ``r2d1`` and ``r2d1_long``).

GPU sampler: worker processes step the envs, the training process picks all actions (and
carries the LSTM states) in one batch; envs that end wait for the batch's end to reset.

Its components: ``TRAIN['atari_r2d1']`` in :mod:`experiments.train_specs`. Started by
``python -m experiments.run`` (see :mod:`experiments.training`) as::

    python -m experiments.scripts.atari.dqn.train.atari_r2d1 SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

from experiments.training import main

if __name__ == "__main__":
    main("atari_r2d1")
