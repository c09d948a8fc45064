"""Models of the Q-function policy-gradient family (DDPG, TD3, SAC): policies and Q(s, a)."""
