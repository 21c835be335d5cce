"""Hydra's saved files and launcher log lines lose their secrets (fast; the runs check it end to end)."""

from __future__ import annotations

import logging

from imitate.redact import REDACTED
from imitate.tracking.hydra_output import RedactingFilter, redact_file

SECRET = "sk-live-0123456789"


def test_a_saved_hydra_file_is_rewritten_without_its_secrets(tmp_path) -> None:
    path = tmp_path / "hydra.yaml"
    path.write_text(
        "hydra:\n  overrides:\n    task:\n    - +judge.api_key=" + SECRET + "\n"
        "  job:\n    override_dirname: +judge.api_key=" + SECRET + ",a=1\n"
        "  run:\n    dir: ${hydra:runtime.cwd}/outputs\n"
    )
    redact_file(path)
    text = path.read_text()
    assert SECRET not in text and REDACTED in text
    assert "${hydra:runtime.cwd}/outputs" in text  # interpolations are kept, not resolved


def test_the_launchers_log_line_is_redacted_before_any_handler(caplog) -> None:
    logger = logging.getLogger("tests.fake_launcher")
    redacting = RedactingFilter()
    logger.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("\t#%d : %s", 0, f"data.max_tokens=512 +judge.api_key={SECRET}")
    finally:
        logger.removeFilter(redacting)
    assert caplog.messages == [f"\t#0 : data.max_tokens=512 +judge.api_key={REDACTED}"]
