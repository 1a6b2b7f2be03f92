"""The built book in a real browser: every chapter loads offline, its maths is
typeset by the bundled MathJax, its blocks are visible, its images load.

Headless Debian Chromium driven by Playwright (``make test`` installs
chromium through ``.ci/system-deps``). The pages are served by a local HTTP
server on 127.0.0.1; any request to another host is recorded and fails the
test, since readers may be offline. A full-page screenshot of each chapter is
saved to ``_build/screenshots/`` for a human look.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from book_build import BUILD, ensure_book, toc_files

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
