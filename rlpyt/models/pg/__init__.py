"""Policy-gradient models: a policy (probabilities or Gaussian mean/log-std) and a value head."""
