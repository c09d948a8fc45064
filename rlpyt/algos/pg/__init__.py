"""Policy-gradient algorithms: A2C, PPO, IMPALA and APPO (V-trace)."""
