"""DQN-family agents for Atari: model sizes from the frame-stack and action spaces."""
