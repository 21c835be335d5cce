"""Blind human A/B rating of imitation-model vs teacher outputs (paper Fig. 1): ``python -m imitate.rate``."""
