"""``pytest -m slow tests/learning --break-loss``: every learning test must then fail.

A learning test proves that its algorithm learns only if it fails when the algorithm
cannot. ``--break-loss`` flips the sign of each algorithm's learning signal, so each one
optimises the wrong way, and the thresholds of this tier must then not be reached:

* A2C, PPO: the policy-gradient term (ascends the surrogate's negative);
* DQN, CategoricalDQN, R2D1: the TD / distributional loss (maximised: the values diverge);
* DDPG, TD3: the actor's loss (the policy seeks low Q); SAC: likewise, its policy loss;
* SupervisedFromSearch (the planners' networks): its supervised loss (the value network
  moves away from its targets, so the search is guided by the opposite of what it found).

The critics of DDPG/TD3/SAC and the value heads of A2C/PPO still learn, so what fails is
the algorithm's improvement of its policy, not just any training. docs/benchmarks.md
records the last run of this check (every test failed).
"""

import pytest

from rlpyt.algos.dqn.cat_dqn import CategoricalDQN
from rlpyt.algos.dqn.dqn import DQN
from rlpyt.algos.dqn.r2d1 import R2D1
from rlpyt.algos.pg.base import LossTerms, PolicyGradientAlgo
from rlpyt.algos.planning.supervised import SupervisedFromSearch
from rlpyt.algos.qpg.ddpg import DDPG
from rlpyt.algos.qpg.sac import SAC


def _flipped_pg_total(terms: LossTerms):
    return -terms.pi_loss + terms.value_loss + terms.entropy_loss


def _negate_first(method):
    def broken(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        return (-out[0], *out[1:]) if isinstance(out, tuple) else -out

    return broken


@pytest.fixture(autouse=True)
def break_loss(request, monkeypatch):
    if not request.config.getoption("--break-loss"):
        return
    monkeypatch.setattr(PolicyGradientAlgo, "total_loss", staticmethod(_flipped_pg_total))
    for cls, name in [
        (DQN, "loss"),
        (CategoricalDQN, "loss"),
        (R2D1, "loss"),
        (DDPG, "mu_loss"),
        (SAC, "pi_loss"),
        (SupervisedFromSearch, "loss"),
    ]:
        monkeypatch.setattr(cls, name, _negate_first(cls.__dict__[name]))
