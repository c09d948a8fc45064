"""DQN-family agents for vector observations and discrete actions (CartPole-like envs)."""

from rlpyt.agents.dqn.catdqn_agent import CatDqnAgent
from rlpyt.agents.dqn.dqn_agent import DqnAgent
from rlpyt.agents.dqn.r2d1_agent import R2d1Agent
from rlpyt.models.dqn.mlp import CatDqnMlpModel, DqnMlpModel, R2d1MlpModel

__all__ = ["MlpMixin", "DqnMlpAgent", "CatDqnMlpAgent", "R2d1MlpAgent"]


class MlpMixin:
    """Model kwargs from the env spaces: ``observation_shape`` and ``action_size`` (``.n``)."""

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        return dict(observation_shape=env_spaces.observation.shape, action_size=env_spaces.action.n)


class DqnMlpAgent(MlpMixin, DqnAgent):
    """:class:`DqnAgent` with :class:`DqnMlpModel` by default; other args as ``DqnAgent``."""

    def __init__(self, *, ModelCls=DqnMlpModel, **kwargs):
        super().__init__(ModelCls=ModelCls, **kwargs)


class CatDqnMlpAgent(MlpMixin, CatDqnAgent):
    """:class:`CatDqnAgent` with :class:`CatDqnMlpModel` by default; other args as ``CatDqnAgent``."""

    def __init__(self, *, ModelCls=CatDqnMlpModel, **kwargs):
        super().__init__(ModelCls=ModelCls, **kwargs)


class R2d1MlpAgent(MlpMixin, R2d1Agent):
    """:class:`R2d1Agent` with :class:`R2d1MlpModel` by default; other args as ``DqnAgent``."""

    def __init__(self, *, ModelCls=R2d1MlpModel, **kwargs):
        super().__init__(ModelCls=ModelCls, **kwargs)
