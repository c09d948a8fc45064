"""Q-function policy-gradient agents (DDPG, TD3, SAC): a policy, critics and their targets."""
