"""Debian's Chromium, headless, driven by Playwright (never a downloaded browser), and screenshots
of a page at desktop and phone widths."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser: Browser, base: str, key: str) -> BrowserContext:
    """A fresh browser profile signed in with ``key`` through the sign-in form."""
    context = browser.new_context(base_url=base, viewport=DESKTOP)
    page = context.new_page()
    page.goto("/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))
    page.close()
    return context


def screenshots(page: Page, folder: Path, name: str) -> list[Path]:
    """Full-page PNGs of ``page`` at desktop and phone widths in ``folder`` (and, when
    ``MEDIASIFT_UI_SCREENSHOTS`` names a folder, copies there), the viewport put back after."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = []
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # a relayout, and the charts' redraw at the new width
        path = folder / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
    page.set_viewport_size(DESKTOP)
    if extra := os.environ.get("MEDIASIFT_UI_SCREENSHOTS"):
        Path(extra).mkdir(parents=True, exist_ok=True)
        for path in taken:
            shutil.copy(path, Path(extra) / path.name)
    return taken
