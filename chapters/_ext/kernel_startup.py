"""Run by IPython in every kernel of the book build (see book_figures.py).

Inline figures are sent as SVG only. The setting goes into the shell's
configuration, which the inline backend reads when matplotlib.pyplot is first
imported; nothing is imported here, so a chapter without figures pays nothing.
"""

from IPython import get_ipython

_shell = get_ipython()
if _shell is not None:
    _shell.config.InlineBackend.figure_formats = {"svg"}
del _shell
