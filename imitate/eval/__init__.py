"""Evaluation after training: held-out loss and generations here; benchmark tasks plug in via ``eval.tasks``."""
