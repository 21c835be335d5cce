"""The report page opens in a real headless Chromium: every image decodes, nothing is cut off."""

from __future__ import annotations

import pytest

from tests.chromium import ELEMENT_EXTENTS, chromium, full_page_screenshot, severe_console_errors

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


def test_mini_contrast_report_fits_the_window_as_a_person_sees_it(contrast_report, browser) -> None:
    """A screenshot of the mini sweep's report (beside the report), every element inside the width."""
    shot = contrast_report.out / "report_screenshot.png"
    full_page_screenshot(browser, contrast_report.page.resolve().as_uri(), shot)
    assert shot.stat().st_size > 50_000  # the whole page: figures and tables, not a blank frame
    width = browser.execute_script("return document.documentElement.clientWidth")
    extents = browser.execute_script(ELEMENT_EXTENTS)
    assert len([e for e in extents if e[0] == "IMG"]) == 7
    outside = [e for e in extents if e[2] < 0 or e[3] > width or not e[4]]
    assert outside == [], f"cut off or not decoded at {width}px: {outside}"
    no_sideways_scroll = "return document.documentElement.scrollWidth <= " + str(width)
    assert browser.execute_script(no_sideways_scroll)
    assert severe_console_errors(browser) == []
