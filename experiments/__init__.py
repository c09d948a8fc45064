"""The rlpyt white paper's experiments (Stooke & Abbeel, 2019), runnable at full scale or tiny.

Outside the ``rlpyt`` package on purpose: these are studies that use the library, not part of
it. ``configs/`` holds the published settings, one module per algorithm family;
``scripts/<family>/train/`` the run scripts that turn one config into one training run;
``scripts/<family>/launch/`` the launch scripts that run a whole setup (games or envs x
seeds) side by side on this machine. :mod:`experiments.training` and
:mod:`experiments.launching` hold the code those scripts share. See ``experiments/README.md``.
"""
