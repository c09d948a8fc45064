"""Model kwargs of Atari agents from the env spaces."""

__all__ = ["AtariMixin"]


class AtariMixin:
    """``image_shape`` (the frame stack ``[C, H, W]``) and ``output_size`` (number of actions)."""

    def make_env_to_model_kwargs(self, env_spaces) -> dict:
        return dict(image_shape=env_spaces.observation.shape, output_size=env_spaces.action.n)
