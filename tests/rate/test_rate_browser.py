"""Two raters in real headless Chromium against the real server: rate, reload, resume, export."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("selenium")
from selenium.webdriver.support.expected_conditions import staleness_of  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

from imitate.rate.__main__ import main  # noqa: E402
from tests.chromium import chromium, severe_console_errors  # noqa: E402
from tests.rate.conftest import rows  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SHOWN = re.compile(r"Instruction (\d+): explain <b>\d+</b> & more")  # as make_pairs writes it


class Rater:
    """One browser, driven through the pages as a person would; remembers what it chose where."""

    def __init__(self, driver, url: str, name: str):
        self.driver, self.url, self.name = driver, url, name
        self.choices: dict[str, str] = {}

    def sign_in(self) -> None:
        self.driver.get(self.url)
        self.driver.find_element("id", "name").send_keys(self.name)
        self._submit(self.driver.find_element("id", "start"))

    def _submit(self, button) -> None:
        button.click()
        wait = WebDriverWait(self.driver, 30)
        wait.until(staleness_of(button))  # the page was left, then the next one fully loads
        wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def progress(self) -> str:
        return self.driver.find_element("id", "progress").text

    def token(self) -> str:
        return self.driver.find_element("name", "token").get_attribute("value")

    def choose(self, choice: str) -> None:
        # The instruction renders as literal text: its markup was escaped, not interpreted.
        item = SHOWN.fullmatch(self.driver.find_element("css selector", "#instruction .text").text)
        assert item, self.driver.page_source
        rated_before = len(self.choices)
        self._submit(self.driver.find_element("id", f"choose-{choice.lower()}"))
        self.choices[f"item-{item[1]}"] = choice
        if self.driver.find_elements("id", "progress"):
            assert f"{rated_before + 1} rated" in self.progress()


def test_two_raters_rate_reload_resume_and_export(served, tmp_path) -> None:
    server = served(4)
    with chromium() as ann_browser, chromium() as bob_browser:
        ann, bob = Rater(ann_browser, server.url, "ann"), Rater(bob_browser, server.url, "bob")
        ann.sign_in()
        assert "ann · 0 rated · 4 to go" in ann.progress()
        ann.choose("A")
        bob.sign_in()  # a second rater, interleaved with the first
        bob.choose("equal")
        ann.choose("B")
        open_token = ann.token()
        ann.driver.refresh()
        assert ann.token() == open_token and "2 rated" in ann.progress()
        ann.driver.delete_all_cookies()  # coming back later: only the name is needed
        ann.sign_in()
        assert ann.token() == open_token and "2 rated" in ann.progress()
        ann.choose("equal")
        bob.choose("B")
        ann.choose("A")
        assert "Thank you, ann" in ann.driver.find_element("id", "done").text
        assert severe_console_errors(ann.driver) == severe_console_errors(bob.driver) == []
    db_path = tmp_path / "ratings.db"
    saved = rows(
        db_path,
        "SELECT a.name, r.item_id, r.choice FROM ratings r JOIN raters a ON a.id = r.rater_id",
    )
    expected = {("ann", k, v) for k, v in ann.choices.items()} | {
        ("bob", k, v) for k, v in bob.choices.items()
    }
    assert set(saved) == expected and len(saved) == 6 and len(ann.choices) == 4
    summary = main(["export", "--db", str(db_path), "--no-log", "--out", str(tmp_path / "out")])
    assert summary["overall"]["ratings"] == 6
    assert summary["overall"]["items_rated_twice_or_more"] == 2  # bob's two items
    assert len((tmp_path / "out" / "judge_pairs.jsonl").read_text().splitlines()) == 6
