"""Hide exercise solutions: from the pages and from the downloadable sources.

``hide_solutions: true`` (sphinx-exercise's setting, under ``sphinx: config:``
in ``_config.yml``) is taken over by this extension, for two reasons.

* sphinx-exercise 1.x handles it only for the plain ``{solution}`` directive.
  For gated solutions (``{solution-start}`` ... ``{solution-end}``, needed
  when a solution contains code cells) it drops the start marker but leaves
  the content and the end marker, and the HTML writer then fails on the
  orphaned end node. Here sphinx-exercise always builds every solution, and a
  transform removes the finished solution nodes (plain and gated alike) from
  the doctree before anything is written or indexed.
* The book also publishes every page's source for download:
  ``_sources/<page>.md`` (Sphinx's "show source") and ``_sources/<page>.ipynb``
  (the executed notebook, copied there by sphinx-book-theme). At the end of
  the build those copies are rewritten without the solution blocks.

Removed from the sources: MyST ``{solution}`` directives (backtick or colon
fences, any fence length) and everything from a ``{solution-start}`` fence to
the end of the matching ``{solution-end}`` fence, including notebook cells in
between.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx_exercise.nodes import solution_node

logger = logging.getLogger(__name__)

_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>solution|solution-start|solution-end)\}")


def _fence_closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def strip_solutions(lines: list[str], in_gated: bool = False) -> tuple[list[str], bool]:
    """Remove solution blocks from MyST lines.

    Parameters
    ----------
    lines : list of str
        Lines of MyST Markdown (with or without line endings).
    in_gated : bool
        Whether the text starts inside a ``{solution-start}`` ... ``{solution-end}``
        region (a notebook cell after the one that opened it).

    Returns
    -------
    kept : list of str
        The lines outside every solution block.
    in_gated : bool
        Whether the text ends inside an open gated region.
    """
    kept: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if match is None:
            if not in_gated:
                kept.append(lines[i])
            i += 1
            continue
        fence, name = match["fence"], match["name"]
        # Skip the directive's own block, up to and including its closing fence.
        i += 1
        while i < len(lines) and not _fence_closes(lines[i], fence):
            i += 1
        i += 1
        if name == "solution-start":
            in_gated = True
        elif name == "solution-end":
            in_gated = False
    return kept, in_gated


def strip_markdown_file(path: Path) -> bool:
    """Strip a MyST ``.md`` file in place; returns whether it changed."""
    text = path.read_text(encoding="utf-8")
    kept, _ = strip_solutions(text.splitlines(keepends=True))
    new = "".join(kept)
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def strip_notebook_file(path: Path) -> bool:
    """Strip an ``.ipynb`` file in place (markdown cells, gated code cells)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells, in_gated, changed = [], False, False
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        lines = source if isinstance(source, list) else source.splitlines(keepends=True)
        if cell.get("cell_type") == "markdown":
            kept, in_gated = strip_solutions(lines, in_gated)
            if kept != lines:
                changed = True
                if not "".join(kept).strip():
                    continue  # the cell held nothing but solution text
                cell["source"] = kept
        elif in_gated:
            changed = True
            continue
        cells.append(cell)
    if changed:
        nb["cells"] = cells
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def _take_over_setting(app: Sphinx, config: Config) -> None:
    # sphinx-exercise then builds every solution; RemoveSolutions drops them.
    config.book_hide_solutions = bool(config.hide_solutions)
    config.hide_solutions = False


class RemoveSolutions(SphinxTransform):
    """Remove the solution nodes once sphinx-exercise has merged the gated ones."""

    # After sphinx-exercise's MergeGatedSolutions (priority 10).
    default_priority = 500

    def apply(self) -> None:
        if not self.config.book_hide_solutions:
            return
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)


def _strip_sources(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or not app.config.book_hide_solutions:
        return
    sources = Path(app.outdir) / "_sources"
    if not sources.is_dir():
        return
    for path in sorted(sources.rglob("*")):
        if path.suffix == ".ipynb":
            changed = strip_notebook_file(path)
        elif path.suffix in {".md", ".txt"}:
            changed = strip_markdown_file(path)
        else:
            continue
        if changed:
            logger.info(f"book_hide_solutions: removed solutions from {path.relative_to(app.outdir)}")


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx_exercise")
    # Registered for the environment: flipping hide_solutions re-reads the pages.
    app.add_config_value("book_hide_solutions", False, "env")
    app.connect("config-inited", _take_over_setting, priority=900)
    app.add_transform(RemoveSolutions)
    # Runs after sphinx-book-theme has copied the notebooks into _sources.
    app.connect("build-finished", _strip_sources, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
