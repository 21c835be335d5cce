"""A scripted rater over HTTP, as a browser would post: load tests, the benchmark, bots."""

from __future__ import annotations

import re

import requests

_TOKEN = re.compile(r'name="token" value="([^"]+)"')


class RaterSession:
    """One rater's cookie session against a running rating app."""

    def __init__(self, base_url: str, name: str, timeout_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.name = name
        self.timeout_s = timeout_s
        self.http = requests.Session()

    def start(self) -> None:
        response = self.http.post(
            f"{self.base_url}/start", data={"name": self.name}, timeout=self.timeout_s
        )
        response.raise_for_status()

    def next_token(self) -> str | None:
        """The presentation token on the rating page, or None when nothing is left to rate."""
        response = self.http.get(f"{self.base_url}/rate", timeout=self.timeout_s)
        response.raise_for_status()
        found = _TOKEN.search(response.text)
        return found.group(1) if found else None

    def rate(self, token: str, choice: str) -> int:
        """Post a choice; the HTTP status (303 saved, 4xx refused), redirects not followed."""
        response = self.http.post(
            f"{self.base_url}/rate",
            data={"token": token, "choice": choice},
            allow_redirects=False,
            timeout=self.timeout_s,
        )
        return response.status_code

    def close(self) -> None:
        self.http.close()
