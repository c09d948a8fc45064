"""Atari 2600 games on ale-py: :class:`~rlpyt.envs.atari.atari_env.AtariEnv`."""
