"""Shared test configuration."""

import os

from hypothesis import settings

# Derandomised in CI so a run is reproducible; locally too, unless asked otherwise.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
