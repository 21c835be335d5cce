"""Generated questions are judged against the benchmark, the seeds and everything kept so far."""

from __future__ import annotations

import sacrebleu

from imitate.data.text_normalise import normalize_answer
from imitate.teacher import question_filter as qf
from imitate.teacher.replies import QUESTION_WITHOUT_ANSWER, Candidate

EVAL = [
    "when was the last time anyone was on the moon",
    "who wrote he ain't heavy he's my brother lyrics",
]
SEEDS = ["how many seasons of the bastard executioner are there"]


def _filter(**kwargs) -> qf.QuestionFilter:
    settings = {"bleu_threshold": 60.0, "max_answer_words": 5} | kwargs
    return qf.QuestionFilter(EVAL, SEEDS, **settings)


def test_exact_and_normalised_copies_of_eval_and_seed_questions_are_rejected() -> None:
    reasons = _filter().judge(
        [
            Candidate("When was the last time anyone was on THE moon?", "1972"),
            Candidate("How many seasons of The Bastard Executioner are there", "one"),
            Candidate("who invented the telephone", "Alexander Graham Bell"),
        ],
        room=10,
    )
    assert reasons == [qf.DUPLICATE_OF_EVAL, qf.COPIES_SEED, None]


def test_near_duplicates_of_eval_questions_are_rejected_at_the_bleu_threshold() -> None:
    near = "who wrote the lyrics he ain't heavy he's my brother"
    score = sacrebleu.sentence_bleu(normalize_answer(near), [normalize_answer(EVAL[1])]).score
    assert 60 <= score < 100  # a paraphrase, not an exact copy
    assert _filter().judge([Candidate(near, "Bob Russell")], room=5) == [qf.NEAR_EVAL]
    # The same candidate passes when the threshold sits above its BLEU: the check is the threshold.
    assert _filter(bleu_threshold=score + 1).judge([Candidate(near, "Bob Russell")], 5) == [None]


def test_duplicates_of_kept_questions_within_a_chunk_and_across_chunks() -> None:
    question_filter = _filter()
    first = question_filter.judge(
        [
            Candidate("who painted the starry night", "Van Gogh"),
            Candidate(
                "Who painted the Starry Night?", "Vincent van Gogh"
            ),  # exact after normalising
            Candidate("who painted the starry night painting", "Van Gogh"),  # near, same chunk
        ],
        room=10,
    )
    assert first == [None, qf.DUPLICATE_OF_KEPT, qf.NEAR_KEPT]
    later = question_filter.judge(
        [
            Candidate("who painted starry night", "Van Gogh"),
            Candidate("who painted the starry night canvas", "Van Gogh"),
            Candidate("what is the capital of mongolia", "Ulaanbaatar"),
        ],
        room=10,
    )
    assert later == [qf.DUPLICATE_OF_KEPT, qf.NEAR_KEPT, None]
    assert question_filter.kept_texts == ["who painted starry night", "what is capital of mongolia"]


def test_malformed_long_answers_and_the_room_left() -> None:
    reasons = _filter().judge(
        [
            Candidate("a question", "", QUESTION_WITHOUT_ANSWER),
            Candidate(
                "who won the 1998 world cup", "France, beating Brazil three nil in the final"
            ),
            Candidate("who won the 2010 world cup", "Spain"),
            Candidate("who won the 1966 world cup", "England"),
            Candidate("who won the 2002 world cup", "Brazil"),
        ],
        room=2,
    )
    assert reasons == [
        QUESTION_WITHOUT_ANSWER,
        qf.ANSWER_TOO_LONG,
        None,
        None,
        qf.OVER_N_EXAMPLES,
    ]
