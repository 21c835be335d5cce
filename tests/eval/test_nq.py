"""Natural Questions: normalisation, multi-answer exact match, disjoint shots, the prompt."""

import pytest

from imitate import metrics
from imitate.eval.nq import NQTask, exact_match, first_line, normalize_answer
from tests.eval.conftest import FIXTURES

NQ = FIXTURES / "nq"


@pytest.mark.parametrize(
    "raw,normalised",
    [
        ("The Beatles", "beatles"),
        ("  An   apple, a Day!  ", "apple day"),
        ("U.S.A.", "usa"),
        ("Theatre of the Absurd", "theatre of absurd"),
        ("Leonardo da Vinci.", "leonardo da vinci"),
        ("'Jupiter'", "jupiter"),
    ],
)
def test_normalisation_lowercases_and_strips_punctuation_and_articles(raw, normalised):
    assert normalize_answer(raw) == normalised


def test_exact_match_accepts_any_gold_answer_after_normalisation():
    golds = ["14 December 1972 UTC", "December 1972"]
    assert exact_match("december 1972.", golds)
    assert exact_match("14 December 1972 UTC", golds)
    assert not exact_match("1972", golds)
    assert not exact_match("in December 1972", golds)
    assert exact_match("the Eight", ["eight", "8"])


def test_only_the_answer_line_counts():
    assert first_line(" Paris\nQ: what is the capital of spain?") == "Paris"


def test_shots_never_come_from_the_scored_questions():
    questions = [{"question": "what is the capital of france", "answer": ["Paris"]}]
    for seed in range(10):
        shots = NQTask(
            data=str(NQ / "test.jsonl"), shots_data=str(NQ / "shots.jsonl"), seed=seed
        ).pick_shots(questions)
        assert len(shots) == 3
        assert "what is the capital of france" not in [s["question"] for s in shots]


def test_shots_from_the_scored_file_itself_are_refused():
    task = NQTask(data=str(NQ / "test.jsonl"), shots_data=str(NQ / "test.jsonl"), shots=1)
    with pytest.raises(ValueError, match="disjoint split"):
        task.run(None)


def test_run_builds_three_shot_prompts_and_scores_every_question(tiny_llm):
    task = NQTask(
        data=str(NQ / "test.jsonl"),
        shots_data=str(NQ / "shots.jsonl"),
        max_new_tokens=4,
    )
    result = task.run(tiny_llm)
    assert len(result.records) == 3 and {r["shots"] for r in result.records} == {3}
    # a random 2-layer model answers nothing right; the scoring itself: the scripted test below
    assert result.metrics == {metrics.NQ_EM: 0.0, metrics.NQ_FEWER_SHOTS: 0.0}
    exemplars = task.pick_shots(task_questions := [{"question": "x", "answer": ["y"]}])
    prompt, _ = task.fit_prompt(exemplars, task_questions[0], tiny_llm, room=10_000)
    assert prompt.endswith("\n\nQ: x?\nA:") and prompt.count("\nA: ") == 3


@pytest.mark.shared_data
def test_shared_efficientqa_dev_is_disjoint_from_nq_open_dev(shared_data):
    from imitate.data.jsonl import load_records

    dev = load_records(str(shared_data / "nq_open" / "NQ-open.dev.jsonl"), what="dev")
    eqa = load_records(
        str(shared_data / "nq_open" / "NQ-open.efficientqa.dev.1.1.jsonl"), what="eqa"
    )
    assert len(dev) == 3610
    overlap = {normalize_answer(q["question"]) for q in dev} & {
        normalize_answer(q["question"]) for q in eqa
    }
    assert len(overlap) < 0.01 * len(eqa)  # any stray overlap is filtered out by pick_shots


class AnswerSheet:
    """Answers each question from a fixed sheet, as a model would, after the prompt's last `Q:`."""

    context_length = None

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers

    def generate(self, requests):
        questions = [r.prompt.rsplit("Q: ", 1)[1].removesuffix("?\nA:") for r in requests]
        return [[self.answers[q]] for q in questions]


def test_run_scores_the_answer_line_against_every_gold_answer():
    task = NQTask(data=str(NQ / "test.jsonl"), shots_data=str(NQ / "shots.jsonl"))
    sheet = AnswerSheet(
        {
            "who wrote the declaration of independence": " Thomas Jefferson.\nQ: next?",
            "what is the capital of france": "Lyon",
            "when did world war ii end": " 2 September 1945",
        }
    )
    result = task.run(sheet)
    assert [r["correct"] for r in result.records] == [True, False, True]
    assert result.metrics == {metrics.NQ_EM: pytest.approx(2 / 3), metrics.NQ_FEWER_SHOTS: 0.0}
