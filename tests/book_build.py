"""Build the Jupyter Book once for the slow book tests, and read its pages.

``ensure_book()`` runs ``jupyter-book build . -W -n --keep-going`` (what
``make book`` runs) unless ``_build/html`` already comes from a successful
build of the current sources. Execution outputs are cached by content in
``_build/.jupyter_cache``, and that cache knows only the notebooks' code: not
the ``solutions`` package the chapters import, nor the figure style
(``chapters/matplotlibrc``) and the kernels' startup file that makes figures
SVG (``chapters/_ext/kernel_startup.py``). The cache is cleared whenever one
of those changed since it was filled: a page never shows outputs of older code.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
CACHE = BUILD / ".jupyter_cache"
# Written after a successful build: the sources fingerprint it was built from.
STAMP = BUILD / ".book-tests-stamp"
# The rendering_fingerprint() of the last successful build.
RENDER_STAMP = BUILD / ".book-tests-rendering"
# The execution_fingerprint() the execution cache was filled with.
CACHE_STAMP = BUILD / ".book-tests-execution"
# Files outside the notebooks that change what executing them gives.
EXECUTION_INPUTS = (
    ROOT / "chapters" / "matplotlibrc",
    ROOT / "chapters" / "_ext" / "kernel_startup.py",
    ROOT / "chapters" / "_ext" / "book_figures.py",
)

BUILD_TIMEOUT_S = 1800

_built: BookBuild | None = None


@dataclass(frozen=True)
class BookBuild:
    """A finished book build."""

    html: Path
    seconds: float  # 0.0 when an up-to-date build was reused
    log: str


def jupyter_book() -> str:
    """The jupyter-book executable of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "jupyter-book"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("jupyter-book")
    if found is None:
        raise RuntimeError("jupyter-book is not installed in this environment")
    return found


def toc_files() -> list[str]:
    """Every page of ``_toc.yml`` (root first), as paths without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return [str(Path(f).with_suffix("")) for f in files]


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _files(folder: Path, suffixes: set[str]) -> list[Path]:
    return [
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
    ]


def execution_fingerprint() -> str:
    """What executed outputs depend on besides the notebooks' code."""
    inputs = _files(ROOT / "solutions", {".py", ".csv"})
    inputs += [path for path in EXECUTION_INPUTS if path.exists()]
    return _fingerprint(inputs)


def rendering_fingerprint() -> str:
    """What every page depends on: configuration, local extensions, static files.

    Sphinx re-renders a page when its source changed, not when an extension's
    code did: a change here needs a full build (``--all``).
    """
    inputs = [ROOT / "_config.yml", ROOT / "_toc.yml"]
    inputs += _files(ROOT / "chapters" / "_ext", {".py"})
    inputs += _files(ROOT / "chapters" / "_static", {".css", ".js"})
    return _fingerprint(inputs)


def sources_fingerprint() -> str:
    """Everything a build depends on: config, toc, bibliography, chapters, solutions."""
    chapters = _files(ROOT / "chapters", {".md", ".ipynb", ".py", ".css", ".js"})
    config = [ROOT / name for name in ("_config.yml", "_toc.yml", "references.bib")]
    return _fingerprint(config + chapters) + execution_fingerprint()


def run_build(*extra: str, timeout: float = BUILD_TIMEOUT_S) -> tuple[int, str, float]:
    """Run ``jupyter-book build ROOT -W -n --keep-going *extra``; (returncode, log, seconds)."""
    cmd = [jupyter_book(), "build", str(ROOT), "-W", "-n", "--keep-going", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


def ensure_book() -> BookBuild:
    """The book in ``_build/html``, built from the current sources (once per session)."""
    global _built
    if _built is not None:
        return _built
    fingerprint = sources_fingerprint()
    if (
        STAMP.exists()
        and STAMP.read_text() == fingerprint
        and all((HTML / f"{page}.html").exists() for page in toc_files())
    ):
        _built = BookBuild(HTML, 0.0, "reused an up-to-date build")
        return _built
    execution = execution_fingerprint()
    cleared = not CACHE_STAMP.exists() or CACHE_STAMP.read_text() != execution
    if cleared:
        shutil.rmtree(CACHE, ignore_errors=True)
    STAMP.unlink(missing_ok=True)
    rendering = rendering_fingerprint()
    # A cleared cache needs every page read again (--all): Sphinx would skip the
    # unchanged ones and leave the cache empty for the later builds to refill.
    fresh = cleared or not RENDER_STAMP.exists() or RENDER_STAMP.read_text() != rendering
    code, log, seconds = run_build(*(["--all"] if fresh else []))
    if code != 0:
        raise AssertionError(f"jupyter-book build failed (exit {code}):\n{log[-8000:]}")
    BUILD.mkdir(exist_ok=True)
    CACHE_STAMP.write_text(execution)
    RENDER_STAMP.write_text(rendering)
    # The fingerprint of the sources *before* the build: an edit made while it
    # ran makes the next session build again.
    STAMP.write_text(fingerprint)
    _built = BookBuild(HTML, seconds, log)
    return _built


def page_path(page: str, html: Path = HTML) -> Path:
    return html / f"{page}.html"


class _Collector(HTMLParser):
    """Collects, for one HTML page, what the tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._stack: list[tuple[str, bool]] = []  # (tag, inside a cell output)
        self.text: list[str] = []
        self.output_text: list[str] = []
        self.output_classes: list[str] = []
        self.output_images: list[str] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.classes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        classes = (attr.get("class") or "").split()
        inside = bool(self._stack and self._stack[-1][1]) or "cell_output" in classes
        if attr.get("id"):
            self.ids.add(attr["id"])
        if tag == "a" and attr.get("href"):
            self.links.append(attr["href"])
        self.classes.extend(classes)
        if inside:
            self.output_classes.extend(classes)
            if tag == "img":
                self.output_images.append(attr.get("src") or "")
        if tag not in {"img", "br", "hr", "meta", "link", "input", "source", "wbr"}:
            self._stack.append((tag, inside))

    def handle_endtag(self, tag: str) -> None:
        # Pop up to the matching tag (tolerates unclosed <p>, <li>, ...).
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if any(tag in {"script", "style"} for tag, _ in self._stack):
            return
        self.text.append(data)
        if self._stack and self._stack[-1][1]:
            self.output_text.append(data)


@dataclass(frozen=True)
class Page:
    """What the tests need from one HTML page."""

    html: str
    text: str  # all text outside <script> and <style>
    output_text: str
    output_classes: frozenset[str]
    output_images: tuple[str, ...]
    ids: frozenset[str]
    links: tuple[str, ...]
    classes: frozenset[str]


def read_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return Page(
        html=text,
        text="".join(collector.text),
        output_text="".join(collector.output_text),
        output_classes=frozenset(collector.output_classes),
        output_images=tuple(collector.output_images),
        ids=frozenset(collector.ids),
        links=tuple(collector.links),
        classes=frozenset(collector.classes),
    )


_SVG_ROOT = re.compile(r"<svg\b[^>]*>", re.S)
_VIEWBOX = re.compile(r'viewBox="\s*[-\d.e]+[\s,]+[-\d.e]+[\s,]+([\d.e]+)[\s,]+[\d.e]+\s*"')
_TEXT = re.compile(r"<text\b.*?</text>", re.S)
# font-size: 11px, or the shorthand font: italic 11px 'DejaVu Sans'.
_FONT_SIZE = re.compile(r"font-size:\s*([\d.]+)px|font:[^;\"]*?([\d.]+)px")


def svg_text_sizes(svg: str) -> tuple[float, list[float]]:
    """Width of an SVG figure's viewBox and the font size of each of its texts.

    Sizes are in the viewBox's units (matplotlib: 1 unit = 1 pt), one per
    ``<text>`` element: the largest size inside it, so that the sub- and
    superscripts of a maths label (70 % of its size) count as part of it.
    Displayed ``w`` CSS px wide, a text of size ``s`` appears at
    ``s * w / width`` px.
    """
    root = _SVG_ROOT.search(svg)
    if root is None:
        raise ValueError("not an SVG document")
    viewbox = _VIEWBOX.search(root.group(0))
    if viewbox is None:
        raise ValueError("SVG without a viewBox")
    sizes = []
    for text in _TEXT.findall(svg):
        found = [float(a or b) for a, b in _FONT_SIZE.findall(text)]
        if found:
            sizes.append(max(found))
    return float(viewbox.group(1)), sizes
