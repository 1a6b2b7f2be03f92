"""The corpus of the assignment ``bernoulli_mixture``."""
