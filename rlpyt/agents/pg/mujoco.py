"""Policy-gradient agents for continuous control (MuJoCo and other vector-observation envs).

Observation normalisation: pass ``model_kwargs=dict(normalize_observation=True)``;
the algorithm then updates the statistics through ``agent.update_obs_rms``.
"""

from rlpyt.agents.pg.gaussian import GaussianPgAgent, RecurrentGaussianPgAgent
from rlpyt.models.pg.mujoco_ff_model import MujocoFfModel
from rlpyt.models.pg.mujoco_lstm_model import MujocoLstmModel

__all__ = ["MujocoMixin", "MujocoFfAgent", "MujocoLstmAgent"]


class MujocoMixin:
    """Model kwargs from the env spaces: ``observation_shape`` and ``action_size``."""

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        action_shape = env_spaces.action.shape
        if len(action_shape) != 1:
            raise ValueError(f"{type(self).__name__} needs a 1-D action space, got {action_shape}")
        return dict(observation_shape=env_spaces.observation.shape, action_size=action_shape[0])


class MujocoFfAgent(MujocoMixin, GaussianPgAgent):
    """Feed-forward Gaussian agent (default model :class:`MujocoFfModel`)."""

    def __init__(
        self,
        ModelCls=MujocoFfModel,
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


class MujocoLstmAgent(MujocoMixin, RecurrentGaussianPgAgent):
    """Recurrent Gaussian agent (default model :class:`MujocoLstmModel`)."""

    def __init__(
        self,
        ModelCls=MujocoLstmModel,
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
