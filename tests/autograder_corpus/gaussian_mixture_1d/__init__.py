"""The corpus of the univariate Gaussian mixture exercise (``build.py``)."""
