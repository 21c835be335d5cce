"""Rating-app fixtures: a pairs file, a store over a fresh database, the app in TestClient."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from imitate.rate import db
from imitate.rate.pairs import write_pairs
from imitate.rate.store import RatingStore
from imitate.reply_pair import ReplyPair


def make_pairs(count: int, run_id: str | None = "run-a") -> list[ReplyPair]:
    """Items whose texts say what they are, so tests can tell the sides apart server-side."""
    return [
        ReplyPair(f"item-{i}", f"Instruction {i}: explain <b>{i}</b> & more", f"model says {i}",
             f"teacher says {i}", run_id)
        for i in range(count)
    ]  # fmt: skip


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    """Run one statement on the ratings database from a fresh connection (committed)."""
    connection = sqlite3.connect(path)
    try:
        result = connection.execute(sql, params).fetchall()
        connection.commit()
        return result
    finally:
        connection.close()


# A style task's generations table (imitate.style.generations): both model replies ended on their own.
GENERATIONS = {
    "id": ["0", "1"],
    "prompt": ["p0", "p1"],
    "model_reply": ["m0", "m1"],
    "teacher_reply": ["t0", "t1"],
    "truncated": [False, False],
}


@pytest.fixture(scope="session")
def tracking(tmp_path_factory):
    """(client, uri) of one MLflow store for the session: creating a store takes seconds."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"
    client = MlflowClient(uri)
    client.create_experiment("rate")
    return client, uri


@pytest.fixture
def new_run(tracking):
    """``new_run(table)``: a fresh run id, with ``table`` logged as its eval/generations.json."""
    from imitate.rate.pairs import GENERATIONS_ARTIFACT

    client, _ = tracking

    def create(table: dict | None = None) -> str:
        experiment_id = client.get_experiment_by_name("rate").experiment_id
        run_id = client.create_run(experiment_id).info.run_id
        if table is not None:
            client.log_table(run_id, table, GENERATIONS_ARTIFACT)
        return run_id

    return create


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "ratings.db"


@pytest.fixture
def store_factory(db_path):
    """A store over db_path with `count` items loaded: ``store_factory(count, ratings_per_item)``."""

    def build(count: int = 3, ratings_per_item: int | None = None, seed: int = 0) -> RatingStore:
        store = RatingStore(db_path, ratings_per_item, rng=random.Random(seed))
        db.add_items(db_path, make_pairs(count))
        return store

    return build


@pytest.fixture
def client_factory():
    """A TestClient (its own cookie jar: one rater each) over a store's app."""
    from fastapi.testclient import TestClient

    from imitate.rate.app import create_app

    clients = []

    def build(store: RatingStore, rater: str | None = None):
        client = TestClient(create_app(store), follow_redirects=False)
        clients.append(client)
        if rater is not None:
            assert client.post("/start", data={"name": rater}).status_code == 303
        return client

    yield build
    for client in clients:
        client.close()


SERVER_START_S = 240


@pytest.fixture
def served(tmp_path):
    """``served(count, *serve_args)``: the real CLI server on 127.0.0.1 over `count` items."""
    from contextlib import ExitStack

    from imitate.rate.server import spawned

    with ExitStack() as stack:

        def start(count: int, *serve_args: str):
            pairs = write_pairs(tmp_path / f"pairs-{count}.jsonl", make_pairs(count))
            args = ["--db", str(tmp_path / "ratings.db"), "--pairs", str(pairs), *serve_args]
            # Startup is not under test: on a shared 2-core machine at load 20 it took over 60 s.
            return stack.enter_context(spawned(args, timeout_s=SERVER_START_S))

        yield start
