"""Action distributions: sampling, log-likelihoods, KL and entropy over dist-info tuples."""
