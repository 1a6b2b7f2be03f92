"""Figures of the book as SVG: sharp on every screen, text measurable.

The chapters draw with matplotlib's inline backend, which by default sends a
PNG at ``figure.dpi``: blurred on a phone's dense screen, and its text is
pixels. For the book build the inline backend is switched to SVG, with text
kept as text (``svg.fonttype: none`` in ``chapters/matplotlibrc``).

``InlineBackend.figure_formats`` is IPython configuration, not a matplotlib
rcParam, and myst-nb offers no setting that reaches the kernel. IPython runs
the file named by ``PYTHONSTARTUP`` when a kernel starts, so this extension
points that variable, for the kernels the build starts, at
``kernel_startup.py`` next to it. A reader who runs a chapter in Jupyter keeps
their own settings (PNG by default); the figure style itself (sizes, fonts)
lives in ``chapters/matplotlibrc``, which matplotlib reads from the kernel's
working directory, in the build and in Jupyter alike.

Changing this or ``kernel_startup.py`` does not invalidate the execution
cache (``_build/.jupyter_cache``): delete it to redraw the figures
(``tests/book_build.py`` does that by itself).
"""

from __future__ import annotations

import os
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

STARTUP = Path(__file__).with_name("kernel_startup.py")


def _point_kernels_at_startup_file(app: Sphinx, config: Config) -> None:
    # Overrides a PYTHONSTARTUP of the user: the build must not depend on it.
    os.environ["PYTHONSTARTUP"] = str(STARTUP)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _point_kernels_at_startup_file)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
