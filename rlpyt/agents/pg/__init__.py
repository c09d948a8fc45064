"""Policy-gradient agents: a policy distribution and a value estimate (A2C, PPO)."""
