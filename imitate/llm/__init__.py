"""Clients for any LLM, in process or behind an endpoint: what eval tasks, the teacher and the judge call."""
