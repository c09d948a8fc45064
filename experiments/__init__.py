"""The rlpyt white paper's experiments (Stooke & Abbeel, 2019), runnable at full scale or tiny.

Outside the ``rlpyt`` package on purpose: these are studies that use the library, not part of
it. ``configs/`` holds the published settings, one module per algorithm family;
:mod:`experiments.setups` the table of published setups, which ``python -m experiments.run
SETUP`` launches (games or envs x seeds, side by side on this machine, :mod:`experiments.launching`);
:mod:`experiments.train_specs` the components of each kind of run, and
``scripts/<family>/train/<kind>.py`` the run scripts (the original's train-script shape) that
turn one config into one training run (:mod:`experiments.training`). See
``experiments/README.md``.
"""
