"""Named configurations of the published setups, one module per algorithm family.

Every config is a nested dict of plain values (it is logged as the run's ``params.json``) with
the sections the run scripts read (:mod:`experiments.training`):

=============  ==================================================================
``env``        keyword arguments of the env (``AtariEnv`` or ``gym_make``)
``eval_env``   those of the evaluation envs, where they differ (Atari: no episodic lives)
``sampler``    ``batch_T``, ``batch_B``, decorrelation and evaluation settings
``agent``      keyword arguments of the agent (exploration)
``model``      ``model_kwargs`` of the agent's network
``algo``       keyword arguments of the algorithm
``optim``      ``optim_kwargs`` of its optimizer
``runner``     ``n_steps``, ``log_interval_steps``, ``seed``
=============  ==================================================================

Each family module has ``configs`` (name -> config) and ``tiny(config)``, the same config cut
down to a run of seconds that still builds every component, learns at least once, logs and
writes a snapshot (used by ``python -m experiments.run SETUP --tiny``).
"""

from rlpyt.utils.launching.variant import update_config

__all__ = ["derive"]


def derive(base: dict, changes: dict, new_keys=()) -> dict:
    """A copy of ``base`` with ``changes`` merged in (``base`` is left unchanged).

    A key of ``changes`` that ``base`` lacks is an error naming it (a typo must not pass
    silently), unless its dotted path is listed in ``new_keys``, e.g. ``"algo.V_min"``.
    """
    return update_config(base, changes, open_keys=new_keys)
