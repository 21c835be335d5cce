"""Table 2's style similarity to the teacher, and the held-out prompt sets with teacher replies."""
