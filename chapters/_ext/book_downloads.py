"""The download menu's ``.ipynb``: the executed notebook, with its outputs.

Every chapter page offers its notebook for download (``_sources/<page>.ipynb``,
copied from myst-nb's ``_build/jupyter_execute/<page>.ipynb``). Two gaps are
closed here, before sphinx-book-theme builds the menu (priority 501):

* myst-nb 1.x writes ``jupyter_execute/<page>.ipynb`` from the notebook as read,
  and when a page's outputs come from the execution cache they are merged into
  a copy: the file, and so the download, then has no outputs at all. The
  outputs are merged in again from the cache here.
* sphinx-book-theme copies the notebook to ``_sources`` only while adding
  launch buttons, which ``book_repository`` switches off when the book has no
  public repository URL: the copy is then made here.

The solutions are removed from the copies in ``_sources`` at the end of the
build (``book_hide_solutions``).
"""

from __future__ import annotations

from pathlib import Path
from shutil import copy2
from typing import Any

import nbformat
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _has_outputs(nb: nbformat.NotebookNode) -> bool:
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return not code or any(cell.get("execution_count") is not None for cell in code)


def restore_outputs(executed: Path, cache_path: str) -> bool:
    """Merge the cached outputs into ``executed`` if it has none; returns whether it did."""
    from jupyter_cache import get_cache

    nb = nbformat.read(executed, as_version=4)
    if _has_outputs(nb):
        return False
    try:
        _, merged = get_cache(cache_path).merge_match_into_notebook(nb)
    except KeyError:  # not in the cache: nothing better to offer
        return False
    nbformat.write(merged, executed)
    return True


def _complete_download(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if "kernelspec" not in app.env.metadata.get(pagename, {}):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not executed.is_file():
        return
    cache_path = getattr(app.env, "mystnb_config", None)
    cache_path = getattr(cache_path, "execution_cache_path", None)
    if cache_path and restore_outputs(executed, cache_path):
        logger.info(f"book_downloads: outputs restored in {executed.name}")
    if context.get("ipynb_source") or not str(context.get("sourcename", "")).endswith(
        (".md", ".md.txt")
    ):
        return
    # The theme copies it itself when it shows launch buttons; a second copy
    # of the same file does no harm.
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> dict:
    # Before sphinx-book-theme's launch and header buttons (priority 501).
    app.connect("html-page-context", _complete_download, priority=500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
