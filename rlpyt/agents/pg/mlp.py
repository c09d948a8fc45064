"""Categorical policy-gradient agents for vector observations and discrete actions (CartPole)."""

from rlpyt.agents.pg.categorical import CategoricalPgAgent, RecurrentCategoricalPgAgent
from rlpyt.models.pg.categorical_mlp_model import CategoricalPgLstmModel, CategoricalPgMlpModel

__all__ = ["MlpMixin", "MlpFfAgent", "MlpLstmAgent"]


class MlpMixin:
    """Model kwargs from the env spaces: ``observation_shape`` and ``action_size`` (``.n``)."""

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        return dict(observation_shape=env_spaces.observation.shape, action_size=env_spaces.action.n)


class MlpFfAgent(MlpMixin, CategoricalPgAgent):
    """Feed-forward agent (default model :class:`CategoricalPgMlpModel`)."""

    def __init__(
        self,
        ModelCls=CategoricalPgMlpModel,
        model_kwargs=None,
        initial_model_state_dict=None,
        compile=False,
    ):
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
            compile=compile,
        )


class MlpLstmAgent(MlpMixin, RecurrentCategoricalPgAgent):
    """Recurrent agent (default model :class:`CategoricalPgLstmModel`)."""

    def __init__(
        self,
        ModelCls=CategoricalPgLstmModel,
        model_kwargs=None,
        initial_model_state_dict=None,
        compile=False,
    ):
        super().__init__(
            ModelCls=ModelCls,
            model_kwargs=model_kwargs,
            initial_model_state_dict=initial_model_state_dict,
            compile=compile,
        )
