"""The app through FastAPI's TestClient: flow, resume, next-item order, refusals, escaping, blindness."""

from __future__ import annotations

import re

import pytest

from imitate.rate import db
from imitate.reply_pair import ReplyPair
from tests.rate.conftest import rows

TOKEN = re.compile(r'name="token" value="([^"]+)"')


def token_of(page: str) -> str:
    return TOKEN.search(page).group(1)


def ratings(db_path) -> list[tuple]:
    return rows(db_path, "SELECT rater_id, item_id, choice FROM ratings ORDER BY id")


def test_start_rate_everything_then_done(store_factory, client_factory, db_path) -> None:
    client = client_factory(store_factory(3))
    assert client.get("/rate").headers["location"] == "/"  # no name yet
    assert client.post("/start", data={"name": "  Ann   Lee "}).headers["location"] == "/rate"
    for choice in ("A", "equal", "B"):
        page = client.get("/rate")
        assert page.status_code == 200 and "Ann Lee" in page.text
        response = client.post("/rate", data={"token": token_of(page.text), "choice": choice})
        assert (response.status_code, response.headers["location"]) == (303, "/rate")
    done = client.get("/rate")
    assert "nothing left for you to rate" in done.text and "rated 3 items" in done.text
    assert [choice for _, _, choice in ratings(db_path)] == ["A", "equal", "B"]
    assert rows(db_path, "SELECT name FROM raters") == [("Ann Lee",)]


def test_reload_and_new_session_resume_the_same_presentation(store_factory, client_factory) -> None:
    store = store_factory(3)
    client = client_factory(store, "ann")
    first = token_of(client.get("/rate").text)
    assert token_of(client.get("/rate").text) == first  # reload: same item, same order
    client.post("/rate", data={"token": first, "choice": "A"})
    second = token_of(client.get("/rate").text)
    again = client_factory(store, "ann")  # another browser, same name
    page = again.get("/rate").text
    assert token_of(page) == second and "1 rated" in page


def test_next_item_has_fewest_ratings_then_fewest_showings(store_factory, client_factory, db_path):
    store = store_factory(3)
    ann = client_factory(store, "ann")
    ann.post("/rate", data={"token": token_of(ann.get("/rate").text), "choice": "A"})  # item-0
    bob = client_factory(store, "bob")
    bob.get("/rate")  # item-1 (0 ratings) before item-0 (1 rating); left open
    carol = client_factory(store, "carol")
    carol.get("/rate")  # item-2: no ratings and, unlike item-1, not on anyone's screen
    shown = rows(
        db_path, "SELECT r.name, p.item_id FROM presentations p JOIN raters r ON r.id = p.rater_id"
    )
    assert sorted(shown) == [("ann", "item-0"), ("bob", "item-1"), ("carol", "item-2")]


def test_ratings_per_item_caps_each_item(store_factory, client_factory, db_path) -> None:
    store = store_factory(2, ratings_per_item=1)
    ann = client_factory(store, "ann")
    for _ in range(2):
        ann.post("/rate", data={"token": token_of(ann.get("/rate").text), "choice": "B"})
    bob = client_factory(store, "bob")
    assert "nothing left for you to rate" in bob.get("/rate").text
    assert len(ratings(db_path)) == 2


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"choice": "A"}, 422),  # no token
        ({"token": "", "choice": "A"}, 422),
        ({"token": "x" * 65, "choice": "A"}, 422),
        ({"token": None, "choice": "C"}, 422),  # not A / B / equal
        ({"token": None, "choice": "teacher"}, 422),
        ({"token": None}, 422),  # no choice
        ({"token": "no-such-token", "choice": "A"}, 404),
    ],
)
def test_malformed_posts_are_refused_and_change_nothing(
    store_factory, client_factory, db_path, data, status
) -> None:
    client = client_factory(store_factory(2), "ann")
    token = token_of(client.get("/rate").text)
    data = {key: token if value is None else value for key, value in data.items()}
    before = rows(db_path, "SELECT * FROM presentations")
    assert client.post("/rate", data=data).status_code == status
    assert ratings(db_path) == [] and rows(db_path, "SELECT * FROM presentations") == before
    assert token_of(client.get("/rate").text) == token  # still the open item


def test_replay_is_409_and_the_first_choice_stands(store_factory, client_factory, db_path) -> None:
    client = client_factory(store_factory(2), "ann")
    token = token_of(client.get("/rate").text)
    assert client.post("/rate", data={"token": token, "choice": "A"}).status_code == 303
    before = rows(db_path, "SELECT * FROM ratings")
    for choice in ("A", "B"):
        assert client.post("/rate", data={"token": token, "choice": choice}).status_code == 409
    assert rows(db_path, "SELECT * FROM ratings") == before


def test_another_raters_token_or_no_name_is_403(store_factory, client_factory, db_path) -> None:
    store = store_factory(2)
    ann, bob = client_factory(store, "ann"), client_factory(store, "bob")
    token = token_of(ann.get("/rate").text)
    assert bob.post("/rate", data={"token": token, "choice": "A"}).status_code == 403
    anonymous = client_factory(store)
    assert anonymous.post("/rate", data={"token": token, "choice": "A"}).status_code == 403
    assert ratings(db_path) == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "bad\x00name"])
def test_bad_rater_names_are_422(store_factory, client_factory, db_path, name) -> None:
    client = client_factory(store_factory(1))
    response = client.post("/start", data={"name": name})
    assert response.status_code == 422 and 'id="error"' in response.text
    assert "set-cookie" not in response.headers
    assert rows(db_path, "SELECT * FROM raters") == []


def test_untrusted_text_is_escaped(db_path, store_factory, client_factory) -> None:
    store = store_factory(0)
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    db.add_items(db_path, [ReplyPair("x", hostile, hostile + " m", hostile + " t")])
    page = client_factory(store, "<b>ann</b>").get("/rate")
    assert "<script" not in page.text and "<img" not in page.text and "<b>ann" not in page.text
    assert page.text.count("&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img") == 3
    assert "script-src" not in page.headers["content-security-policy"]  # no scripts run at all


def _normalised(page: str, screen_texts: dict[str, str], token: str, rater: str) -> str:
    for text in screen_texts.values():
        page = page.replace(text, "@@OUTPUT@@")
    return page.replace(token, "@@TOKEN@@").replace(rater, "@@RATER@@")


def test_the_teacher_side_is_not_derivable_from_the_page(store_factory, client_factory, db_path):
    """Pages with the teacher on A and on B are identical once the texts and token are masked."""
    store = store_factory(1, seed=1)
    [(model_text, teacher_text)] = rows(db_path, "SELECT output_model, output_teacher FROM items")
    texts = {"model": model_text, "teacher": teacher_text}
    pages: dict[str, set[str]] = {"A": set(), "B": set()}
    headers: dict[str, set] = {"A": set(), "B": set()}
    tokens = set()
    for index in range(60):
        rater = f"rater-{index:03d}"
        client = client_factory(store, rater)
        response = client.get("/rate")
        token = token_of(response.text)
        [(side,)] = rows(
            db_path, "SELECT teacher_side FROM presentations WHERE token = ?", (token,)
        )
        shown_first = re.search(r'id="output-a"[^>]*>.*?class="text">(.*?)</div>', response.text)
        assert shown_first[1] == texts["teacher" if side == "A" else "model"]  # the record is true
        pages[side].add(_normalised(response.text, texts, token, rater))
        saved = client.post("/rate", data={"token": token, "choice": "A"})
        headers[side].add(
            tuple(
                sorted((k, v) for k, v in response.headers.items() if k not in ("content-length",))
            )
            + tuple(sorted(saved.headers.items()))
        )
        tokens.add(token)
    assert len(pages["A"]) == len(pages["B"]) == 1  # both sides occurred; one page shape for each
    assert pages["A"] == pages["B"]
    assert headers["A"] == headers["B"]
    assert len(tokens) == 60 and {len(t) for t in tokens} == {24}  # random, one length


def test_sides_are_balanced_and_recorded(store_factory, db_path) -> None:
    store = store_factory(100, seed=3)
    while (screen := store.screen("ann")) is not None:
        store.save("ann", screen.token, "equal")
    counts = dict(rows(db_path, "SELECT teacher_side, COUNT(*) FROM presentations GROUP BY 1"))
    assert counts.keys() == {"A", "B"} and 30 <= counts["A"] <= 70  # binomial(100, .5): ±4 sd
    assert rows(db_path, "SELECT COUNT(*) FROM presentations WHERE shown_at = ''") == [(0,)]
