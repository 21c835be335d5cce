"""Deprecation warnings raised inside third-party code, which imitate cannot fix, silenced by message.

imitate's own calls raise none (``dtype=``, not transformers' deprecated ``torch_dtype=``;
tests/test_smoke_run.py checks a run's whole output). What is left comes from inside libraries,
once per run, and says nothing a user can act on. Each filter matches one exact message from one
library; drop it when that library's pinned version stops warning. Installed by every entry point
(``run_with_hints``), never on import, so a library user's own filters stay theirs.
"""

from __future__ import annotations

import warnings

# (message regex, category, module regex of the code that warns)
FILTERS: list[tuple[str, type[Warning], str]] = [
    # torchdata 0.11's StatefulDataLoader calls torch.set_vital, a no-op torch deprecated: per loader.
    (r"'set_vital' is deprecated", UserWarning, r"torchdata\."),
    # pytorch_lightning 2.6 (utilities/_pytree.py) builds torch's deprecated LeafSpec() per batch.
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"pytorch_lightning\."),
    # mlflow 3's SQLAlchemy store configures a `noload` relationship (SQLAlchemy 2.1 deprecation).
    (r"The ``noload`` loader strategy is deprecated", DeprecationWarning, r"mlflow\."),
    # mlflow's log_table calls pandas' select_dtypes(include=["object"]) (pandas 3 migration note).
    (
        r"For backward compatibility, 'str' dtypes are included by select_dtypes",
        Warning,
        r"mlflow\.",
    ),
]


def silence_third_party_deprecations() -> None:
    """Install ``FILTERS`` (idempotent: warnings.filterwarnings dedupes identical filters)."""
    for message, category, module in FILTERS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
