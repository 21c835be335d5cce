"""A headless Chromium for browser tests (Debian's chromium + chromium-driver); skips when absent."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def chromium() -> Iterator:
    """A driver with its own profile (own cookies) and the browser console log kept."""
    webdriver = pytest.importorskip("selenium.webdriver")
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "chromium and chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def severe_console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def full_page_screenshot(driver, page_uri: str, path, width: int = 1280) -> None:
    """Open ``page_uri`` at ``width`` CSS pixels and save the whole page, top to bottom, as a PNG."""
    driver.set_window_size(width, 1000)
    driver.get(page_uri)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 200)  # room for the browser's own frame
    driver.save_screenshot(str(path))


# Each element of the page (images, tables) as [kind, text, left, right, decoded]: what a reader
# sees cut off at the window's right edge shows as right > the page's client width.
ELEMENT_EXTENTS = """
return Array.from(document.querySelectorAll('img, table')).map(e => {
  const box = e.getBoundingClientRect();
  const decoded = e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0);
  return [e.tagName, e.alt || e.closest('section').id, box.left, box.right, decoded];
});
"""
