"""The corpus of the assignment ``gaussian_mixture``."""
