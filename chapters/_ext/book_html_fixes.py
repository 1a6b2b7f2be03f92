"""Small fixes to the HTML pages of the book.

Some inline scripts (sphinx-thebe's ``const THEBE_JS_URL = ...``,
sphinx-togglebutton's selector) end up twice in every page of a Jupyter Book
build, once registered with the file name ``None`` and once with ``""``. The
second ``const`` declaration throws "Identifier 'THEBE_JS_URL' has already
been declared" in the browser. Identical scripts are dropped here, keeping the
first.

Sphinx copies ``html_static_path`` only when some page is rewritten, so an
edit of ``chapters/_static/book.css`` alone never reached ``_build/html``. The
static files are copied again at the end of every build.
"""

from __future__ import annotations

import os
from typing import Any

from sphinx.application import Sphinx
from sphinx.util.fileutil import copy_asset


def _dedupe_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        # The two copies differ only in filename None vs "" (inline scripts).
        key = (
            getattr(js, "filename", js) or "",
            getattr(js, "priority", 0),
            tuple(sorted(getattr(js, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def _copy_static(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for entry in app.config.html_static_path:
        source = os.path.join(app.confdir, entry)
        # copy_asset only rewrites files whose content differs.
        copy_asset(source, os.path.join(app.outdir, "_static"))


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _copy_static)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
