"""MLflow tracking: the run, its parameters, tags and artifacts."""
