"""The Jupyter Book: it builds with zero warnings, executes every chapter, and
its pages have what they promise (figures, citations, hidden solutions), no
unrendered MyST, and buttons that point to the course's public repository only
when it has one.

The build tests are slow (a cold build executes every chapter); the build is
shared by this module and ``test_book_browser.py`` through ``book_build``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from book_build import (
    CACHE,
    ROOT,
    ensure_book,
    jupyter_book,
    page_path,
    read_page,
    run_build,
    svg_text_sizes,
    toc_files,
)

CHAPTERS = [
    "chapters/preface",
    "chapters/latent_variables",
    "chapters/mixture_models",
    "chapters/gaussian_mixtures",
    "chapters/bernoulli_mixtures",
    "chapters/em_algorithm",
    "chapters/monotonicity",
    "chapters/em_beyond_mixtures",
    "chapters/worked_example",
    "chapters/exercise_poisson",
    "chapters/bibliography",
]

# Figures drawn by the code of each page (images inside cell outputs), at least.
MIN_FIGURES = {
    "chapters/preface": 0,
    "chapters/latent_variables": 2,
    "chapters/mixture_models": 2,
    "chapters/gaussian_mixtures": 1,
    "chapters/bernoulli_mixtures": 1,
    "chapters/em_algorithm": 1,
    "chapters/monotonicity": 3,
    "chapters/em_beyond_mixtures": 2,
    "chapters/worked_example": 1,
    "chapters/exercise_poisson": 0,
    "chapters/bibliography": 0,
}

SOLUTION_LABEL = "sol-poisson-em"
EXERCISE_PAGE = "chapters/exercise_poisson"

# What a failing cell leaves in its output: tracebacks, exception and warning names.
ERROR_MARKERS = re.compile(r"Traceback|\b\w*(Error|Exception|Warning)\b")
# myst-nb's classes for stderr and error outputs.
ERROR_CLASSES = {"stderr", "traceback", "error"}

# MyST that was not parsed shows up in the page as its source: a directive
# fence that never opened (its first line held a backtick role, so the
# following code cell was swallowed and never ran), a role without its
# backticks, a colon fence.
RAW_MYST = re.compile(
    r"```\{|:::\{|\{(prf|cite|doc|ref|math|eq|numref|term|download|code-cell)[:}]"
)
# A code cell of a MyST notebook: a backtick or colon fence at a line start.
CODE_CELL = re.compile(r"^(`{3,}|:{3,})\{code-cell\}", re.M)

# Hosts the buttons of a published book link to; none without repository.url.
PUBLIC_HOSTS = ("mybinder.org", "colab.research.google.com", "github.com", "gitlab.com")


def _load_extension(name: str = "book_hide_solutions"):
    path = ROOT / "chapters" / "_ext" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bib_entries() -> dict[str, str]:
    """Key -> title (braces removed, lower case) of every entry in references.bib."""
    text = (ROOT / "references.bib").read_text(encoding="utf-8")
    entries = {}
    for block in re.split(r"\n(?=@)", text.strip()):
        key = re.match(r"@\w+\{([^,]+),", block).group(1)
        title = re.search(r"\btitle\s*=\s*\{(.*)\},?\s*$", block, re.M).group(1)
        entries[key] = _normalise(title)
    return entries


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip().lower()


@pytest.fixture(scope="module")
def book():
    return ensure_book()


@pytest.fixture(scope="module")
def pages(book):
    return {page: read_page(page_path(page, book.html)) for page in toc_files()}


# ---------------------------------------------------------------------------
# fast checks of the sources


def test_toc_lists_the_ten_chapters_in_order():
    assert toc_files() == CHAPTERS
    for page in CHAPTERS:
        assert (ROOT / f"{page}.md").is_file(), page


def test_config_makes_failing_cells_fail_the_build():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["execute"]["allow_errors"] is False
    assert config["execute"]["raise_on_error"] is True
    assert config["sphinx"]["config"]["hide_solutions"] is True
    extensions = config["parse"]["myst_enable_extensions"]
    assert {"dollarmath", "amsmath", "colon_fence"} <= set(extensions)


# Code lines that fit the text column at desktop width (0.75rem monospace in
# chapters/_static/book.css); test_book_browser.py measures the real widths.
MAX_CODE_LINE = 90


def test_code_lines_fit_the_column():
    too_long = []
    for page in CHAPTERS:
        inside = False
        lines = (ROOT / f"{page}.md").read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if CODE_CELL.match(line):
                inside = True
            elif inside and line.startswith("```"):
                inside = False
            elif inside and len(line) > MAX_CODE_LINE:
                too_long.append(f"{page}.md:{number} ({len(line)} characters)")
    assert not too_long, f"code lines over {MAX_CODE_LINE} characters: {too_long}"


def test_every_cited_key_is_in_the_bibliography():
    keys = set(_bib_entries())
    cited = set()
    for page in CHAPTERS:
        text = (ROOT / f"{page}.md").read_text(encoding="utf-8")
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
            cited.update(k.strip() for k in group.split(","))
    assert cited, "no citation found in the chapters"
    assert cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"


def test_strip_solutions_removes_solution_blocks_only():
    ext = _load_extension()
    text = (
        "# Exercise\n"
        "```{exercise} Do it\n:label: ex-1\nWrite EM.\n```\n"
        "````{solution} ex-1\n:label: sol-1\nThe answer:\n```python\nsecret = 42\n```\n````\n"
        "Between.\n"
        ":::{solution} ex-1\ncolon secret\n:::\n"
        "```{solution-start} ex-1\n:label: sol-2\n```\n"
        "gated secret\n"
        "```{solution-end}\n```\n"
        "After.\n"
    )
    kept, in_gated = ext.strip_solutions(text.splitlines(keepends=True))
    out = "".join(kept)
    assert not in_gated
    assert "secret" not in out and "solution" not in out
    assert "Write EM." in out and "Between." in out and "After." in out
    assert out.count("```") == 2  # the exercise fence, untouched


def test_strip_notebook_drops_cells_of_gated_solutions(tmp_path):
    ext = _load_extension()

    def md(src):
        return {"cell_type": "markdown", "metadata": {}, "source": src}

    def code(src):
        return {"cell_type": "code", "metadata": {}, "source": src, "outputs": [],
                "execution_count": None}

    nb = {
        "cells": [
            md("```{exercise}\n:label: ex-1\nDo it.\n```"),
            code("def stub():\n    raise NotImplementedError"),
            md("```{solution-start} ex-1\n```"),
            code("secret = 42"),
            md("```{solution-end}\n```"),
            md("Text ```{solution} ex-1\n"),  # not a directive: not at line start
            code("print('visible')"),
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    assert ext.strip_notebook_file(path)
    cells = json.loads(path.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells]
    assert not any("secret" in s for s in sources)
    assert sources[0].startswith("```{exercise}")
    assert "NotImplementedError" in sources[1] and "visible" in sources[-1]
    assert len(cells) == 4


# ---------------------------------------------------------------------------
# the built book


@pytest.mark.slow
def test_every_toc_page_has_its_html_page(book):
    for page in toc_files():
        assert page_path(page, book.html).is_file(), page
    index = (book.html / "index.html").read_text(encoding="utf-8")
    assert "chapters/preface.html" in index


@pytest.mark.slow
def test_no_error_output_on_any_page(pages):
    for name, page in pages.items():
        assert "Traceback" not in page.text, name
        assert not (page.output_classes & ERROR_CLASSES), (name, page.output_classes & ERROR_CLASSES)
        match = ERROR_MARKERS.search(page.output_text)
        assert match is None, f"{name}: cell output contains {match.group(0)!r}"


@pytest.mark.slow
def test_code_pages_show_their_figures(pages, book):
    for name, page in pages.items():
        # Figures saved by myst-nb; an <img> filled in by JavaScript (an
        # animation's frames) has no file and is not counted.
        figures = [src for src in page.output_images if "_images/" in src]
        assert len(figures) >= MIN_FIGURES[name], (
            f"{name}: {len(figures)} figures, expected at least {MIN_FIGURES[name]}"
        )
        for src in figures:
            image = (page_path(name, book.html).parent / src).resolve()
            # Vector figures with their text as text (chapters/matplotlibrc,
            # chapters/_ext/book_figures.py): sharp on a phone, measurable.
            assert image.suffix == ".svg", f"{name}: {src} is not an SVG figure"
            width, sizes = svg_text_sizes(image.read_text(encoding="utf-8"))
            assert width >= 200, (src, width)
            assert sizes, f"{name}: {src} has no <text> (svg.fonttype must be 'none')"


@pytest.mark.slow
def test_theorems_proofs_and_algorithm_blocks(pages):
    mono = pages["chapters/monotonicity"]
    for label in ("thm-monotone", "lem-gibbs", "lem-decomposition", "cor-stationary", "def-gem"):
        assert label in mono.ids, label
    assert {"theorem", "lemma", "proof", "corollary", "definition"} <= mono.classes
    assert "alg-em" in pages["chapters/em_algorithm"].ids
    assert "algorithm" in pages["chapters/em_algorithm"].classes


@pytest.mark.slow
def test_bibliography_lists_every_entry_and_citations_resolve(pages):
    bib = pages["chapters/bibliography"]
    text = _normalise(bib.text)
    for key, title in _bib_entries().items():
        assert title in text, f"{key}: title {title!r} missing from the bibliography page"
    n_citations = 0
    for name, page in pages.items():
        assert "??" not in page.text, name
        for href in page.links:
            if "bibliography.html#" in href:
                n_citations += 1
                assert href.split("#", 1)[1] in bib.ids, (name, href)
    assert n_citations >= 20


@pytest.mark.slow
def test_exercise_solution_hidden_by_default(pages, book):
    page = pages[EXERCISE_PAGE]
    assert "exercise" in page.classes, "the exercise page has no exercise block"
    assert "solution" not in page.classes and SOLUTION_LABEL not in page.html
    # Nor in the downloadable sources of the page.
    for suffix in (".md", ".ipynb"):
        source = book.html / "_sources" / f"{EXERCISE_PAGE}{suffix}"
        assert source.is_file(), source
        content = source.read_text(encoding="utf-8")
        assert SOLUTION_LABEL not in content and "{solution" not in content, suffix


@pytest.mark.slow
def test_every_notebook_page_offers_its_ipynb(book):
    for page in toc_files():
        head = (ROOT / f"{page}.md").read_text(encoding="utf-8")[:400]
        if "kernelspec:" not in head:
            continue
        html = page_path(page, book.html).read_text(encoding="utf-8")
        name = Path(page).name
        assert f"_sources/{page}.ipynb" in html or f"{name}.ipynb" in html, page
        assert (book.html / "_sources" / f"{page}.ipynb").is_file(), page


@pytest.mark.slow
def test_downloaded_notebooks_are_the_executed_ones(book):
    """The download menu's .ipynb has its outputs, also when taken from the cache."""
    for page in toc_files():
        source = ROOT / f"{page}.md"
        if not CODE_CELL.search(source.read_text(encoding="utf-8")):
            continue
        nb = json.loads((book.html / "_sources" / f"{page}.ipynb").read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        missing = [c["source"][:60] for c in code if not isinstance(c.get("execution_count"), int)]
        assert code and not missing, f"{page}: downloaded cells without outputs: {missing}"
        assert any(c["outputs"] for c in code), page


@pytest.mark.slow
def test_unchanged_rebuild_executes_nothing(book):
    code, log, seconds = run_build()
    assert code == 0, log[-4000:]
    assert "Executing notebook" not in log
    print(f"no-change rebuild: {seconds:.1f} s")
    assert seconds < 60


@pytest.mark.slow
def test_solution_shown_when_hide_solutions_is_false(book, tmp_path):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["sphinx"]["config"]["hide_solutions"] = False
    # Paths in a config file are read relative to it: make them absolute, and
    # reuse the main build's execution cache so that nothing is executed again.
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    config["execute"]["cache"] = str(CACHE)
    alt = tmp_path / "_config.yml"
    alt.write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / "out"
    code, log, seconds = run_build("--config", str(alt), "--path-output", str(out))
    assert code == 0, log[-4000:]
    assert "Executing notebook" not in log, "the cached outputs were not reused"
    print(f"second build with hide_solutions: false: {seconds:.1f} s")
    page = read_page(out / "_build" / "html" / f"{EXERCISE_PAGE}.html")
    assert "solution" in page.classes and SOLUTION_LABEL in page.ids
    source = out / "_build" / "html" / "_sources" / f"{EXERCISE_PAGE}.md"
    assert SOLUTION_LABEL in source.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("raise ValueError('cell failed on purpose')", "ValueError"),
        ("import sys\nprint('to stderr', file=sys.stderr)", "stderr"),
    ],
)
def test_a_failing_or_noisy_cell_fails_the_build(tmp_path, cell, expected):
    project = tmp_path / "book"
    (project / "chapters").mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    (project / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (project / "_toc.yml").write_text("format: jb-book\nroot: chapters/preface\n")
    shutil.copy(ROOT / "references.bib", project)
    shutil.copytree(ROOT / "chapters" / "_static", project / "chapters" / "_static")
    (project / "chapters" / "preface.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"
        "# A page\n\n```{code-cell} ipython3\n" + cell + "\n```\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [jupyter_book(), "build", str(project), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert expected in log


# ---------------------------------------------------------------------------
# unrendered MyST, swallowed cells


def test_raw_myst_pattern_catches_what_it_should():
    for raw in ("```{prf:proof} Second proof", "{prf:ref}`thm`", "{cite:p}`x`", ":::{note}",
                "{doc}`preface`", "{ref}`sec`", "{math}`x`", "{eq}`eq-elbo`"):
        assert RAW_MYST.search(raw), raw
    for fine in ("a set {x : x > 0}", "dict {'a': 1}", "``` plain fence", "f'{x:.3f}'"):
        assert not RAW_MYST.search(fine), fine


def test_code_cell_count_sees_every_fence():
    text = "```{code-cell} ipython3\nx = 1\n```\n\nText ```{code-cell}``` inline.\n" \
        "````{code-cell} ipython3\n:tags: [hide-input]\ny = 2\n````\n"
    assert len(CODE_CELL.findall(text)) == 2


@pytest.mark.slow
def test_no_raw_myst_on_any_page(pages):
    for name, page in pages.items():
        match = RAW_MYST.search(page.text)
        if match:
            start = max(match.start() - 80, 0)
            context = page.text[start:match.end() + 80].replace("\n", " ")
            pytest.fail(f"{name}: unrendered MyST {match.group(0)!r} in ...{context}...")


@pytest.mark.slow
def test_every_code_cell_of_a_source_is_executed(book):
    # The notebooks as executed, from the build's execution cache (myst-nb's
    # own copy in _build/jupyter_execute has no outputs when a page was taken
    # from the cache). A notebook whose source changed since has no record.
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    records = {Path(r.uri).resolve(): r for r in cache.list_project_records()}
    n_cells = 0
    for page in toc_files():
        path = (ROOT / f"{page}.md").resolve()
        expected = len(CODE_CELL.findall(path.read_text(encoding="utf-8")))
        if expected == 0:
            continue
        assert path in records, f"{page}: not in the execution cache"
        executed = cache.get_cached_project_nb(records[path].uri)
        assert executed is not None, f"{page}: no executed notebook for the current source"
        nb = cache.get_cache_bundle(executed.pk).nb
        code = [c for c in nb.cells if c.cell_type == "code"]
        ran = [c for c in code if isinstance(c.get("execution_count"), int)]
        assert len(code) == expected, (
            f"{page}: the source has {expected} code-cell fences, the executed notebook "
            f"{len(code)} code cells (a fence that did not open swallows the next cell)"
        )
        assert len(ran) == expected, f"{page}: {expected - len(ran)} code cells not executed"
        n_cells += expected
    assert n_cells >= 60


# ---------------------------------------------------------------------------
# repository, issue and launch buttons


def test_buttons_follow_the_public_url_setting():
    """book_repository: buttons with repository.url, none without (no build)."""
    ext = _load_extension("book_repository")

    class Config:
        def __init__(self, options):
            self.html_theme_options = options

    launch = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com"}
    off = Config({"repository_url": "", "launch_buttons": dict(launch)})
    ext._configure_buttons(None, off)
    assert off.html_theme_options["launch_buttons"] == {}
    assert not off.html_theme_options["use_repository_button"]
    assert not off.html_theme_options["use_issues_button"]
    assert "repository_url" not in off.html_theme_options

    on = Config({"repository_url": " https://github.com/org/course/ ", "launch_buttons": launch})
    ext._configure_buttons(None, on)
    options = on.html_theme_options
    assert options["repository_url"] == "https://github.com/org/course"
    assert options["use_repository_button"] and options["use_issues_button"]
    # Colab cannot open the chapters (.md): never offered.
    assert options["launch_buttons"] == {"binderhub_url": "https://mybinder.org"}


def test_config_has_one_public_url_setting_empty_by_default():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["repository"]["url"] == ""
    assert "book_repository" in config["sphinx"]["local_extensions"]
    # Nothing else in the configuration names a repository host.
    text = (ROOT / "_config.yml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        assert "github.com" not in line and "gitlab.com" not in line, line
    assert not config["launch_buttons"].get("colab_url")


def test_binder_environment_installs_the_course_and_jupytext():
    requirements = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8")
    names = {re.split(r"[<>=!\[ ]", line.strip())[0].lower()
             for line in requirements.splitlines() if line.strip() and not line.startswith("#")}
    assert {"jupytext", "jupyterlab", "numpy", "scipy", "matplotlib"} <= names
    post = ROOT / "binder" / "postBuild"
    script = post.read_text(encoding="utf-8")
    assert post.stat().st_mode & 0o111, "binder/postBuild must be executable"
    commands = [line.strip() for line in script.splitlines() if not line.lstrip().startswith("#")]
    assert any(re.fullmatch(r"python -m pip install (--no-cache-dir )?\.", c) for c in commands)
    assert "jupytext-config set-default-viewer" in commands
    # What `pip install .` installs: the course package, distribution em-course.
    pyproject = ROOT / "pyproject.toml"
    assert pyproject.is_file(), "pyproject.toml (distribution em-course) is missing"
    import tomllib

    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    assert project["name"] == "em-course"


@pytest.mark.slow
def test_no_button_points_to_a_repository_without_the_setting(pages):
    for name, page in pages.items():
        assert "dropdown-launch-buttons" not in page.html, name
        for href in page.links:
            assert not any(host in href for host in PUBLIC_HOSTS), (name, href)


@pytest.mark.slow
def test_buttons_appear_with_the_public_url(tmp_path):
    """A one-page book with repository.url set gets Binder, repository and issue buttons."""
    project = tmp_path / "book"
    (project / "chapters").mkdir(parents=True)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["repository"]["url"] = "https://github.com/example-org/em-course"
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    (project / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (project / "_toc.yml").write_text("format: jb-book\nroot: chapters/preface\n")
    shutil.copy(ROOT / "references.bib", project)
    shutil.copytree(ROOT / "chapters" / "_static", project / "chapters" / "_static")
    (project / "chapters" / "preface.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"
        "# A page\n\n```{code-cell} ipython3\nprint(1 + 1)\n```\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [jupyter_book(), "build", str(project), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    page = read_page(project / "_build" / "html" / "chapters" / "preface.html")
    binder = [h for h in page.links if "mybinder.org" in h]
    assert binder == [
        "https://mybinder.org/v2/gh/example-org/em-course/main"
        "?urlpath=lab/tree/chapters/preface.md"
    ]
    assert "https://github.com/example-org/em-course" in page.links
    assert any(h.startswith("https://github.com/example-org/em-course/issues/new") for h in page.links)
    assert not any("colab" in h for h in page.links)
    # No placeholder left anywhere.
    assert "em-course/em-mixtures" not in page.html
