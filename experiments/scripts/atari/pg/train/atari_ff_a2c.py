"""One Atari A2C run with the feed-forward agent (config ``ff_a2c``).

GPU sampler: worker processes step the envs, the training process picks all actions in one
batch (on the run's GPU, else the CPU); envs that end wait for the batch's end to reset.

Its components: ``TRAIN['atari_ff_a2c']`` in :mod:`experiments.train_specs`. Started by
``python -m experiments.run`` (see :mod:`experiments.training`) as::

    python -m experiments.scripts.atari.pg.train.atari_ff_a2c SLOT_AFFINITY_CODE LOG_DIR RUN_ID CONFIG_KEY [--tiny]
"""

from experiments.training import main

if __name__ == "__main__":
    main("atari_ff_a2c")
