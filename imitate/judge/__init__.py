"""The pairwise LLM judge (both orders, robust verdicts, LC win rate), its calibration and human agreement."""
