"""The built book in a real browser: every chapter loads offline, its maths is
typeset by the bundled MathJax, its blocks are visible, its images load; its
figures' text is readable at desktop width; nothing is wider than the text
column at desktop width or than a phone's screen; the sidebar buttons open the
chapter list and the contents on a phone and a tablet.

Headless Debian Chromium driven by Playwright (``make test`` installs
chromium through ``.ci/system-deps``). The pages are served by a local HTTP
server on 127.0.0.1; any request to another host is recorded and fails the
test, since readers may be offline. A full-page screenshot of each chapter is
saved to ``_build/screenshots/`` for a human look.
"""

from __future__ import annotations

import base64
import functools
import http.server
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from book_build import BUILD, ensure_book, svg_text_sizes, toc_files

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = BUILD / "screenshots"

# Text that only appears when TeX was not typeset: display-maths delimiters,
# environments and macros (code blocks are removed before looking).
RAW_TEX = re.compile(r"\$\$|\\begin\{|\\end\{|\\(frac|sum|theta|mathbb|log|pi|mid|ell)\b")

# Equations whose glyphs stick out of their box (display maths) or of the text
# column (any maths, e.g. in a wide table cell): MathJax does not break lines,
# and the overflow is cut off or hidden behind a scroll bar.
OVERFLOWING_MATH_JS = """
() => {
  const article = document.querySelector('article');
  const column = article.getBoundingClientRect().right;
  return Array.from(MathJax.startup.document.math).flatMap(item => {
    const root = item.typesetRoot;
    if (!article.contains(root)) return [];  // e.g. headings in the side bar
    const limit = item.display ? Math.min(column, root.getBoundingClientRect().right) : column;
    const rights = [...root.querySelectorAll('mjx-c')].map(c => c.getBoundingClientRect().right);
    return Math.max(...rights) > limit + 1 ? [item.math.trim().slice(0, 80)] : [];
  });
}
"""

VISIBLE_TEXT_JS = """
() => {
  const clone = document.querySelector('main').cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, .cell_input, script, style, mjx-container')
       .forEach(el => el.remove());
  return clone.innerText;
}
"""

# Smallest text of a figure, in CSS px, at desktop width (1280 px).
MIN_FIGURE_TEXT_PX = 11.0
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}

# Every figure of the main text (cell outputs, the animation player's frame):
# its source and its width on screen.
FIGURES_JS = """
() => [...document.querySelectorAll('main .cell_output img, main .animation img')]
  .map(img => ({src: img.currentSrc || img.src, width: img.getBoundingClientRect().width}))
"""

# Code blocks and printed outputs whose content is wider than their box (cut
# off, or hidden behind a scroll bar).
OVERFLOWING_BLOCKS_JS = """
() => [...document.querySelectorAll('main pre, main .cell_output .output')]
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.scrollWidth} > ${el.clientWidth} px: ` + el.innerText.trim().slice(0, 60))
"""

# Elements that stick out of the viewport on the right, outermost first.
WIDER_THAN_SCREEN_JS = """
() => {
  const limit = document.documentElement.clientWidth + 1;
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit) continue;
    // Off-canvas and hidden (a closed drawer): not on screen.
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    if (out.some(o => o.contains(el))) continue;
    // Inside a box that scrolls or clips horizontally: not the page's overflow.
    let clipped = false;
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== 'visible' && p.getBoundingClientRect().right <= limit) { clipped = true; break; }
    }
    if (!clipped) out.push(el);
  }
  return out.map(el => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ` +
                       `right=${Math.round(el.getBoundingClientRect().right)}`);
}
"""

pytestmark = pytest.mark.slow


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def site():
    book = ensure_book()
    handler = functools.partial(_QuietHandler, directory=str(book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: run `bash .ci/system-deps` (make test does)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("page_name", toc_files())
def test_chapter_renders_offline(site, browser, page_name):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    external, errors = [], []
    host = urlparse(site).netloc

    def on_request(request):
        url = urlparse(request.url)
        if url.scheme in {"http", "https"} and url.netloc != host:
            external.append(request.url)

    page.on("request", on_request)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"failed: {req.url}")
            if urlparse(req.url).netloc == host else None)
    try:
        response = page.goto(f"{site}/{page_name}.html", wait_until="load")
        assert response is not None and response.ok, page_name

        has_math = page.evaluate("() => typeof window.MathJax !== 'undefined'")
        if has_math:
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=30_000,
            )
            page.evaluate("() => MathJax.startup.promise")
            n_math = page.locator("mjx-container").count()
            assert n_math > 0, f"{page_name}: MathJax loaded but typeset nothing"
            assert page.locator("mjx-merror").count() == 0, f"{page_name}: TeX errors"
            too_wide = page.evaluate(OVERFLOWING_MATH_JS)
            assert not too_wide, f"{page_name}: equations wider than the page: {too_wide}"
            src = page.evaluate(
                "() => [...document.scripts].map(s => s.src).find(s => s.includes('mathjax'))"
            )
            assert src.startswith(site), f"{page_name}: MathJax from {src}"

        text = page.evaluate(VISIBLE_TEXT_JS)
        raw = RAW_TEX.search(text)
        assert raw is None, f"{page_name}: untypeset TeX {raw.group(0)!r} in the page text"

        broken = page.evaluate(
            "() => [...document.querySelectorAll('main img')]"
            ".filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"
        )
        assert not broken, f"{page_name}: images that did not load: {broken}"

        if page_name == "chapters/monotonicity":
            for selector in ("div.proof.theorem", "div.proof.lemma", "div.proof.corollary",
                             "div.proof.definition", "div.proof#proof"):
                assert page.locator(selector).first.is_visible(), selector
            assert page.locator("#thm-monotone").is_visible()
        if page_name == "chapters/em_algorithm":
            assert page.locator("div.proof.algorithm").first.is_visible()
        if page_name == "chapters/exercise_poisson":
            assert page.locator("div.exercise").first.is_visible()
            assert page.locator("div.solution").count() == 0

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{Path(page_name).name}.png"), full_page=True)

        assert not errors, f"{page_name}: {errors}"
        assert not external, f"{page_name}: requests to other hosts: {external}"
    finally:
        context.close()


def _open(browser, site, page_name, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A generous bound: the animation's page is 3 MB, and the machine may be busy.
    response = page.goto(f"{site}/{page_name}.html", wait_until="load", timeout=120_000)
    assert response is not None and response.ok, page_name
    if page.evaluate("() => typeof window.MathJax !== 'undefined'"):
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000
        )
        page.evaluate("() => MathJax.startup.promise")
    return context, page, errors


def _svg_source(src: str, html_root: Path) -> str:
    url = urlparse(src)
    if url.scheme == "data":
        header, _, data = src.partition(",")
        assert header.startswith("data:image/svg+xml"), f"not an SVG figure: {header}"
        raw = base64.b64decode(data) if header.endswith(";base64") else unquote(data).encode()
        return raw.decode("utf-8")
    path = html_root / unquote(url.path).lstrip("/")
    assert path.suffix == ".svg", f"not an SVG figure: {path.name}"
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def html_root():
    return ensure_book().html


@pytest.mark.parametrize("page_name", toc_files())
def test_figure_text_is_readable_at_desktop_width(site, browser, html_root, page_name):
    context, page, _ = _open(browser, site, page_name, DESKTOP)
    try:
        figures = page.evaluate(FIGURES_JS)
        too_small = []
        for figure in figures:
            view_width, sizes = svg_text_sizes(_svg_source(figure["src"], html_root))
            assert sizes, f"{page_name}: a figure without <text> ({figure['src'][:80]})"
            smallest = min(sizes) * figure["width"] / view_width
            if smallest < MIN_FIGURE_TEXT_PX:
                name = figure["src"].rsplit("/", 1)[-1][:40]
                too_small.append(f"{name}: {smallest:.1f} px")
        assert not too_small, f"{page_name}: figure text under {MIN_FIGURE_TEXT_PX} px: {too_small}"
    finally:
        context.close()


@pytest.mark.parametrize("page_name", toc_files())
def test_code_and_outputs_fit_the_column_at_desktop_width(site, browser, page_name):
    context, page, _ = _open(browser, site, page_name, DESKTOP)
    try:
        overflowing = page.evaluate(OVERFLOWING_BLOCKS_JS)
        assert not overflowing, f"{page_name}: blocks wider than the column: {overflowing}"
    finally:
        context.close()


@pytest.mark.parametrize("page_name", toc_files())
def test_nothing_is_wider_than_a_phone(site, browser, page_name):
    context, page, _ = _open(browser, site, page_name, PHONE)
    try:
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        wide = page.evaluate(WIDER_THAN_SCREEN_JS)
        assert scroll <= PHONE["width"] and not wide, (
            f"{page_name}: page {scroll} px wide on a {PHONE['width']} px screen: {wide}"
        )
        # The two blocks that used to stick out, named.
        for selector in ("table.notation", "div.animation"):
            for box in page.locator(selector).evaluate_all(
                "els => els.map(el => el.getBoundingClientRect().toJSON())"
            ):
                assert box["x"] >= 0 and box["right"] <= PHONE["width"] + 1, (selector, box)
    finally:
        context.close()


def test_phone_pages_have_the_wide_blocks():
    """The named blocks of the phone test exist (a renamed class would skip them)."""
    html = ensure_book().html
    assert 'class="notation' in (html / "chapters" / "preface.html").read_text(encoding="utf-8")
    assert 'class="animation"' in (
        html / "chapters" / "gaussian_mixtures.html"
    ).read_text(encoding="utf-8")


def _drawer_box(page, dialog):
    """The open drawer's box, or None if the dialog is closed."""
    return page.evaluate(
        """(id) => {
          const d = document.getElementById(id);
          if (!d || !d.open) return null;
          const r = d.getBoundingClientRect();
          return {x: r.x, y: r.y, right: r.right, width: r.width, height: r.height,
                  links: [...d.querySelectorAll('a')].filter(a => a.offsetParent).length};
        }""",
        dialog,
    )


@pytest.mark.parametrize("viewport", [PHONE, TABLET], ids=["phone", "tablet"])
@pytest.mark.parametrize(
    ("button", "dialog", "min_links"),
    [
        ("button.primary-toggle", "pst-primary-sidebar-modal", 10),  # chapter list
        ("button.secondary-toggle", "pst-secondary-sidebar-modal", 3),  # contents
    ],
    ids=["chapters", "contents"],
)
def test_sidebar_buttons_open_their_drawer(site, browser, viewport, button, dialog, min_links):
    context, page, errors = _open(browser, site, "chapters/gaussian_mixtures", viewport)
    try:
        visible = page.locator(f"{button}:visible")
        assert visible.count() == 1, f"{visible.count()} visible {button}"
        assert _drawer_box(page, dialog) is None
        visible.click()
        page.wait_for_timeout(400)  # the drawer slides in
        box = _drawer_box(page, dialog)
        assert box is not None, f"{button} did not open #{dialog}"
        assert box["x"] >= -1 and box["right"] <= viewport["width"] + 1, box
        assert box["width"] >= 200 and box["height"] >= 300, box
        assert box["links"] >= min_links, box
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
        assert _drawer_box(page, dialog) is None, "Escape did not close the drawer"
        assert not errors, errors
    finally:
        context.close()


def test_sidebar_button_collapses_the_chapter_list_on_a_desktop(site, browser):
    context, page, errors = _open(browser, site, "chapters/gaussian_mixtures", DESKTOP)
    try:
        sidebar = page.locator("#pst-primary-sidebar")
        assert sidebar.is_visible()
        page.locator("button.primary-toggle:visible").click()
        page.wait_for_timeout(400)
        assert not sidebar.is_visible() or sidebar.bounding_box()["width"] < 5
        assert _drawer_box(page, "pst-primary-sidebar-modal") is None
        assert not errors, errors
    finally:
        context.close()
