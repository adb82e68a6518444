"""The site in a real browser: Debian's headless Chromium driven by Playwright (never
`playwright install`: the browser is the system's). Pages load and link up, Arabic text is
laid out right to left, nothing is logged to the console, the pages work without JavaScript
and fit a phone; screenshots at desktop and phone sizes are left for people to look at.

Skipped, with the reason, when Chromium or Playwright is missing, except in CI (CI=true),
where .ci/run installs Chromium and this must run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from published import Site, build_site, free_port, serving

CHROMIUM = os.environ.get("AGGREGATOR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def _unavailable() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, str]]:
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    port = free_port()  # the base URL points at this server, so every link can be followed
    site = build_site(tmp_path_factory.mktemp("browser"), f"http://127.0.0.1:{port}/")
    with serving(site.config, port) as url:
        yield site, url


@pytest.fixture(scope="module")
def browser(site_url: tuple[Site, str]) -> Iterator[Any]:
    """Started after the site is built: Playwright's sync API holds an event loop, and
    polling runs one of its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("AGGREGATOR_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Console:
    """Collects what a page logs as an error, and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))


def test_pages_load_link_up_and_log_nothing(browser: Any, site_url: tuple[Site, str]) -> None:
    _, url = site_url
    page = browser.new_page()
    console = Console(page)
    assert page.goto(url + "/").status == 200
    assert page.title() == "Sections · aggregator"
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    local = sorted({h for h in hrefs if h.startswith(url)})
    assert len(local) >= 4 * 4 + 3  # sections × (page + 3 feeds), status, two OPML lists
    for href in local:
        assert page.request.get(href).status == 200, href
    page.click("#section-ukraine h2 a")
    page.wait_for_url(url + "/sections/ukraine")
    assert page.locator("article.story").count() >= 2  # four outlets tell one of them
    page.click("nav >> text=Status")
    page.wait_for_url(url + "/status")
    assert page.locator("#source-http-500 .state").inner_text() == "failing"
    page.go_back()
    page.click("a.brand")
    page.wait_for_url(url + "/")
    assert console.errors == []
    page.close()


def test_arabic_reads_right_to_left(browser: Any, site_url: tuple[Site, str]) -> None:
    _, url = site_url
    page = browser.new_page()
    console = Console(page)
    page.goto(url + "/sections/ukraine")
    style = "(els, p) => els.map(e => getComputedStyle(e)[p])"
    # the Arabic reports of a story represented by an English one (issue 5: one story)
    arabic = page.locator('ul.reports li[lang="ar"]')
    assert arabic.count() >= 2
    assert set(arabic.evaluate_all(style, "direction")) == {"rtl"}
    assert set(arabic.evaluate_all(style, "textAlign")) <= {"start", "right"}
    english = page.locator('article[lang="en"] h2')
    assert set(english.evaluate_all(style, "direction")) == {"ltr"}
    # an English report inside an Arabic page, or the reverse, keeps its own direction
    reports = page.locator('article[lang="en"] ul.reports li[lang="en"]')
    assert set(reports.evaluate_all(style, "direction")) == {"ltr"}
    page.goto(url + "/sections/iran")
    title = page.locator("h1")
    assert title.evaluate("e => getComputedStyle(e).direction") == "rtl"  # إيران, dir=auto
    assert console.errors == []
    page.close()


def test_without_javascript_on_a_phone(browser: Any, site_url: tuple[Site, str],
                                       artifacts: Path) -> None:
    _, url = site_url
    shots = []
    for size, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height},
                                      java_script_enabled=False)
        page = context.new_page()
        for name, path in (("index", "/"), ("section", "/sections/ukraine"),
                           ("arabic-section", "/sections/ukraine-ar"), ("status", "/status")):
            assert page.goto(url + path).status == 200
            assert page.locator("h1").count() == 1
            if name != "status":  # the status tables scroll inside their own box
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{path} is wider than a {width}px screen"
            shot = artifacts / f"{name}-{size}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5000
            shots.append(shot)
        context.close()
    print("\nscreenshots:\n" + "\n".join(f"  {shot}" for shot in shots))
