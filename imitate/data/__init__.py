"""Imitation data: load -> normalise -> clean -> format with special tokens -> pack into blocks."""
