"""The corpus of the assignment ``poisson_mixture``."""
