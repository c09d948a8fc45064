"""Sequence replays (R2D1): each sample is a sequence of steps with its stored RNN state."""
