"""``python -m imitate.rate serve``: what it loads and refuses before it serves."""

from __future__ import annotations

import pytest

from imitate.rate import __main__ as cli
from imitate.rate.pairs import write_pairs
from tests.rate.conftest import GENERATIONS, make_pairs, rows


@pytest.fixture
def served_with(monkeypatch):
    """Calls to server.serve, recorded instead of serving."""
    calls = []
    monkeypatch.setattr(cli.server, "serve", lambda app, host, port: calls.append((host, port)))
    return calls


def test_serve_a_runs_generations_and_a_pairs_file(tracking, new_run, tmp_path, served_with):
    _, uri = tracking
    run_id = new_run(GENERATIONS)
    pairs = write_pairs(tmp_path / "pairs.jsonl", make_pairs(2, run_id=None))
    db_path = tmp_path / "ratings.db"
    args = ["serve", "--db", str(db_path), "--tracking-uri", uri, "--run", run_id]
    cli.main([*args, "--pairs", str(pairs), "--model-run-id", "run-b", "--port", "8123"])
    assert served_with == [("127.0.0.1", 8123)]
    assert rows(db_path, "SELECT id, model_run_id FROM items ORDER BY position") == [
        ("item-0", "run-b"), ("item-1", "run-b"), (f"{run_id}:0", run_id), (f"{run_id}:1", run_id),
    ]  # fmt: skip
    cli.main(["serve", "--db", str(db_path)])  # a restart resumes the same items
    assert rows(db_path, "SELECT COUNT(*) FROM items") == [(4,)]


def test_serve_leaves_out_truncated_model_replies_and_says_so(tracking, new_run, tmp_path, served_with, capsys) -> None:  # fmt: skip
    _, uri = tracking
    run_id = new_run(GENERATIONS | {"truncated": [True, False]})
    db_path = tmp_path / "ratings.db"
    cli.main(["serve", "--db", str(db_path), "--tracking-uri", uri, "--run", run_id])
    assert rows(db_path, "SELECT id FROM items") == [(f"{run_id}:1",)]
    assert "left out 1 item(s) whose model reply was cut at the token limit" in capsys.readouterr().err  # fmt: skip


def test_serve_refuses_an_empty_database_and_bad_options(tmp_path, served_with, capsys) -> None:
    with pytest.raises(SystemExit, match="holds no items to rate: pass --pairs FILE or --run"):
        cli.main(["serve", "--db", str(tmp_path / "ratings.db")])
    with pytest.raises(SystemExit):
        cli.main(["serve", "--ratings-per-item", "0"])
    assert "must be a positive integer, got 0" in capsys.readouterr().err
    assert served_with == []


def test_serving_beyond_this_machine_warns(tmp_path, served_with, capsys) -> None:
    pairs = write_pairs(tmp_path / "pairs.jsonl", make_pairs(1))
    cli.main(["serve", "--db", str(tmp_path / "r.db"), "--pairs", str(pairs), "--host", "0.0.0.0"])
    assert "no accounts, anyone who can reach it" in capsys.readouterr().err
    assert served_with == [("0.0.0.0", 8000)]
