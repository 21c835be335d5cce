"""The report page opens in a real headless Chromium: every image decodes, no console errors."""

from __future__ import annotations

import pytest

from tests.chromium import chromium, severe_console_errors

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def browser():
    with chromium() as driver:
        yield driver


def test_report_page_renders_without_errors(report, browser) -> None:
    _, _, _, page = report
    browser.get(page.resolve().as_uri())
    assert browser.title.startswith("imitate report")
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])"
    )
    assert len(images) == 7 and all(ok for _, ok in images), images
    assert severe_console_errors(browser) == []
    assert browser.find_elements("css selector", "td.gap")  # the not-run cells are visible
