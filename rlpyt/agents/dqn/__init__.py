"""Deep Q-learning agents: epsilon-greedy acting, a target network (DQN, C51, R2D1)."""
