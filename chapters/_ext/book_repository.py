"""Repository, issue and launch buttons only when the book has a public home.

One setting holds the course's public repository: ``repository.url`` in
``_config.yml`` (``html_theme_options["repository_url"]`` once Jupyter Book
has translated it). Empty, as in a clone or before publication, the pages show
no repository, issue or launch button: a button that opens a placeholder
repository on Binder is worse than none. Set, the pages get

* a repository button and an issue button (sphinx-book-theme's own), and
* the launch buttons of ``launch_buttons`` (Binder: the image is built from
  ``binder/``, which installs the course package and jupytext so that the
  chapters, MyST Markdown files, open as notebooks).

Jupyter Book refuses ``html.use_repository_button: true`` without a URL, so
``_config.yml`` leaves the buttons off and this extension switches them on.
Colab is never offered: it opens only ``.ipynb`` files from a repository, and
the chapters are ``.md`` files (readers download the executed ``.ipynb``
from every page's download menu instead).

sphinx-book-theme fails on launch buttons without a repository, so without a
URL they are switched off; ``book_downloads`` then offers the ``.ipynb``.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.config import Config

# Buttons of sphinx-book-theme that need the repository URL.
REPOSITORY_BUTTONS = ("use_repository_button", "use_issues_button")
# Launch providers that cannot open a MyST Markdown page.
MARKDOWN_INCAPABLE = ("colab_url", "deepnote_url")


def public_url(config: Config) -> str:
    """The book's public repository URL, ``""`` when none is set."""
    options = config.html_theme_options or {}
    return str(options.get("repository_url") or "").strip().rstrip("/")


def _configure_buttons(app: Sphinx, config: Config) -> None:
    options = dict(config.html_theme_options or {})
    url = public_url(config)
    launch = dict(options.get("launch_buttons") or {})
    for key in MARKDOWN_INCAPABLE:
        launch.pop(key, None)
    if url:
        options["repository_url"] = url
        for button in REPOSITORY_BUTTONS:
            options[button] = True
        options["launch_buttons"] = launch
    else:
        options.pop("repository_url", None)
        for button in (*REPOSITORY_BUTTONS, "use_edit_page_button", "use_source_button"):
            options[button] = False
        # sphinx-book-theme adds launch buttons only if some provider is set.
        options["launch_buttons"] = {}
    config.html_theme_options = options


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _configure_buttons, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
