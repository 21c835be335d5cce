"""MLflow params: flattened, truncated to MLflow's limit, secrets redacted."""

from __future__ import annotations

from imitate.redact import REDACTED, redact
from imitate.tracking.mlflow_run import MAX_PARAM_VALUE, flatten_params


def test_long_values_are_truncated_not_fatal() -> None:
    params = dict(flatten_params({"data": {"note": "x" * 10_000, "block_size": 128}}))
    assert len(params["data.note"]) == MAX_PARAM_VALUE
    assert params["data.block_size"] == "128"


def test_secret_keys_are_redacted_everywhere() -> None:
    config = {"judge": {"api_key": "sk-live-123", "model": "gpt-4"}, "hub_token": "hf_abc"}
    params = dict(flatten_params(config))
    assert params["judge.api_key"] == REDACTED and params["hub_token"] == REDACTED
    assert "sk-live-123" not in str(redact(config)) and "hf_abc" not in str(redact(config))


def test_token_counts_are_not_mistaken_for_tokens() -> None:
    config = {"data": {"max_tokens": 1024, "min_query_tokens": 8}, "eval": {"max_new_tokens": 8}}
    params = dict(flatten_params(config))
    assert params == {
        "data.max_tokens": "1024",
        "data.min_query_tokens": "8",
        "eval.max_new_tokens": "8",
    }


def test_the_argparse_clis_default_to_the_configs_tracking_uri(monkeypatch):
    from imitate.tracking.store_uri import default_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri() == "sqlite:///outputs/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.team:5000")
    assert default_tracking_uri() == "http://mlflow.team:5000"
