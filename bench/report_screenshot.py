"""A report page as a person sees it: a full-page Chromium screenshot, for bench/RESULTS.md.

Run (from the repository root): python -m bench.report_screenshot reports/mini_contrast/report.html bench/mini_contrast_report.png
Headless Chromium at 1280 CSS pixels (the browser test's width); prints any image or table cut off
at the window's edge. Needs chromium and chromium-driver (apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tests.chromium import ELEMENT_EXTENTS, chromium, full_page_screenshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the report's report.html")
    parser.add_argument("png", type=Path, help="where the screenshot goes")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS pixels")
    args = parser.parse_args()
    with chromium() as driver:
        full_page_screenshot(driver, args.page.resolve().as_uri(), args.png, args.width)
        width = driver.execute_script("return document.documentElement.clientWidth")
        cut = [e for e in driver.execute_script(ELEMENT_EXTENTS) if e[2] < 0 or e[3] > width]
    print(f"{args.png}: {args.width}px wide; cut off: {cut or 'nothing'}")


if __name__ == "__main__":
    main()
