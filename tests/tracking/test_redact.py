"""imitate.redact: which keys are secret, and every form a secret reaches a writer in."""

from __future__ import annotations

import pytest

from imitate.redact import REDACTED, environment_secrets, is_secret_key, redact


@pytest.mark.parametrize(
    "key",
    ["api_key", "apiKey", "OPENAI_API_KEY", "hub_token", "token", "HF_TOKEN", "db_password",
     "client_secret", "AWS_SECRET_ACCESS_KEY", "credentials", "grid.judge.api_key"],
)  # fmt: skip
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["max_tokens", "min_query_tokens", "max_new_tokens", "tokenizer", "TOKENIZERS_PARALLELISM",
     "pad_token", "eos_token_id", "num_key_value_heads", "key", "api_key_env"],
)  # fmt: skip
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_overrides_and_command_lines_lose_their_secret_values() -> None:
    overrides = ["+experiment=smoke", "+judge.api_key=sk-live-0123456789", "data.max_tokens=512"]
    assert redact(overrides) == ["+experiment=smoke", f"+judge.api_key={REDACTED}", overrides[2]]
    command = "python -m imitate -m hub_token='hf abc def' data.max_tokens=512,1024"
    assert redact(command) == f"python -m imitate -m hub_token={REDACTED} data.max_tokens=512,1024"


def test_a_secret_found_once_is_scrubbed_where_it_reappears() -> None:
    # Hydra's hydra.yaml: the override list, and override_dirname joining the same overrides.
    hydra = {
        "overrides": {"task": ["a=1", "+judge.api_key=sk-live-0123456789"]},
        "job": {"override_dirname": "+judge.api_key=sk-live-0123456789,a=1"},
        "note": "key was sk-live-0123456789",
    }
    assert "sk-live" not in str(redact(hydra))
    assert redact("error: sk-live-0123456789 refused", known={"sk-live-0123456789"}) == (
        f"error: {REDACTED} refused"
    )


def test_environment_secrets_and_url_passwords(monkeypatch) -> None:
    monkeypatch.setenv("IMITATE_TEST_API_KEY", "env-secret-42abc")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false-but-long-enough")
    assert "env-secret-42abc" in environment_secrets()
    assert "false-but-long-enough" not in environment_secrets()
    config = {"tracking": {"note": "env-secret-42abc", "uri": "https://me:pw123@mlflow.lab/x"}}
    assert redact(config) == {
        "tracking": {"note": REDACTED, "uri": f"https://{REDACTED}@mlflow.lab/x"}
    }


def test_a_variable_name_stays_visible_but_a_pasted_secret_does_not() -> None:
    assert redact({"api_key_env": "OPENAI_API_KEY"}) == {"api_key_env": "OPENAI_API_KEY"}
    assert redact({"api_key_env": "sk-live-0123456789"}) == {"api_key_env": REDACTED}
    assert redact({"api_key": None}) == {"api_key": None}  # nothing to hide
