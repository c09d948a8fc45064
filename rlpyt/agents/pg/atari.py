"""Policy-gradient agents for Atari: categorical policies on uint8 frame stacks."""

from rlpyt.agents.pg.categorical import CategoricalPgAgent, RecurrentCategoricalPgAgent
from rlpyt.models.pg.atari_ff_model import AtariFfModel
from rlpyt.models.pg.atari_lstm_model import AtariLstmModel

__all__ = ["AtariMixin", "AtariFfAgent", "AtariLstmAgent"]


class AtariMixin:
    """Model kwargs from the env spaces: ``image_shape`` and ``output_size`` (number of actions)."""

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        return dict(image_shape=env_spaces.observation.shape, output_size=env_spaces.action.n)


class AtariFfAgent(AtariMixin, CategoricalPgAgent):
    """Feed-forward Atari agent (default model :class:`AtariFfModel`)."""

    def __init__(
        self,
        ModelCls=AtariFfModel,
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


class AtariLstmAgent(AtariMixin, RecurrentCategoricalPgAgent):
    """Recurrent Atari agent (default model :class:`AtariLstmModel`)."""

    def __init__(
        self,
        ModelCls=AtariLstmModel,
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
