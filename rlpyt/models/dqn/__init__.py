"""Q-value models of the DQN family: Atari conv nets, MLPs, dueling and distributional heads."""
