"""Imitation data made by a teacher LLM: NQ-synthetic (paper §3) and replies to a user's prompts.

Feeds :mod:`imitate.data`; talks to the teacher only through :class:`imitate.llm.base.LLM`.
"""
