"""Algorithms: turn sample batches into agent updates (``pg/``: A2C, PPO)."""
