"""The paper's figures and tables from a sweep's MLflow runs: ``python -m imitate.report <experiment or parent run>``."""
