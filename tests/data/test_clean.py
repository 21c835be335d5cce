"""Each cleaning step on a 12-conversation fixture with planted problems, with exact counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imitate.data import clean as steps
from imitate.data.clean import CleanConfig, clean
from imitate.data.html_markdown import html_to_markdown, looks_rendered
from imitate.data.report import DataReport

FIXTURE = Path(__file__).parents[1] / "fixtures" / "data_quality" / "conversations.jsonl"


@pytest.fixture
def conversations() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def ids(conversations: list[dict]) -> list[str]:
    return [c["id"].split("_")[0] for c in conversations]


def test_rendered_html_turn_becomes_markdown_and_is_counted(conversations):
    report = DataReport()
    out = steps.convert_rendered_html(conversations, report)
    assert report.counts["html_turns_converted"] == 1
    answer = out[1]["turns"][1]["content"]
    assert answer == "Use **strong flour** & warm water:\n\n1. Mix the dough\n2. Bake it hot"
    assert out[0] == conversations[0]


def test_html_written_as_content_is_left_alone():
    assert not looks_rendered('<div class="modal fade" id="x">\n <div class="modal-dialog">')
    assert not looks_rendered("| a | b<br>c |\n| --- | --- |")
    assert not looks_rendered("Use <p> tags for paragraphs")
    assert looks_rendered("<div><p>Hi</p></div>")


def test_rendered_code_block_keeps_language_and_drops_copy_button():
    html = (
        '<div class="markdown prose"><pre><div class="bg-black"><div class="flex"><span>python</span>'
        '<button>Copy code</button></div><div><code class="hljs language-python">print(&quot;hi&quot;)'
        "\nx = 1 &lt; 2</code></div></div></pre></div>"
    )
    assert html_to_markdown(html) == '```python\nprint("hi")\nx = 1 < 2\n```'


def test_empty_turns_are_dropped_and_counted(conversations):
    report = DataReport()
    out = steps.drop_empty_turns(conversations, report)
    assert report.counts["dropped_empty_turns"] == 3  # two in c03, one in c04
    assert report.counts["dropped_no_exchange_left"] == 1  # c04
    assert "c04" not in ids(out) and len(out) == 11
    assert [t["role"] for t in out[2]["turns"]] == ["user", "assistant"]


def test_conversation_is_trimmed_to_its_last_assistant_turn(conversations):
    report = DataReport()
    out = steps.trim_to_last_assistant(conversations, report)
    assert report.counts["dropped_trailing_turns"] == 1  # c05's unanswered follow-up
    assert out[4]["turns"][-1]["role"] == "assistant" and len(out[4]["turns"]) == 2
    assert report.counts["dropped_no_assistant_turn"] == 0


def test_conversation_without_any_assistant_turn_is_dropped():
    report = DataReport()
    only_user = {"id": "u", "source": "s", "turns": [{"role": "user", "content": "hi"}]}
    assert steps.trim_to_last_assistant([only_user], report) == []
    assert report.counts["dropped_no_assistant_turn"] == 1


def test_exact_duplicates_match_after_case_and_whitespace_normalisation(conversations):
    report = DataReport()
    out = steps.dedupe_exact(conversations, report)
    assert report.counts["dropped_exact_duplicate"] == 1
    assert "c06" not in ids(out) and "c01" in ids(out)
    assert {"c08", "c09"} <= set(ids(out))  # same query "continue", different answers


def test_near_duplicate_query_is_dropped_but_short_shared_queries_are_not(conversations):
    report = DataReport()
    unique = [c for c in conversations if not c["id"].startswith("c06")]
    out = steps.dedupe_near_queries(unique, report, bleu_threshold=80, min_query_tokens=8)
    assert report.counts["dropped_near_duplicate_query"] == 1
    assert "c07" not in ids(out) and {"c01", "c08", "c09"} <= set(ids(out))


def test_language_filter_drops_the_french_conversation_only(conversations):
    report = DataReport()
    out = steps.filter_language(conversations, report, language="en")
    assert ids(out) == [i for i in ids(conversations) if i != "c10"]
    assert report.counts["dropped_language_not_en"] == 1


def test_clean_runs_every_enabled_step_in_order(conversations):
    report = DataReport()
    out = clean(conversations, {"language": "en"}, report)
    assert ids(out) == ["c01", "c02", "c03", "c05", "c08", "c09", "c11", "c12"]
    expected = {
        "clean_input_conversations": 12,
        "html_turns_converted": 1,
        "dropped_empty_turns": 3,
        "dropped_no_exchange_left": 1,
        "dropped_trailing_turns": 1,
        "dropped_exact_duplicate": 1,
        "dropped_language_not_en": 1,
        "dropped_near_duplicate_query": 1,
        "clean_output_conversations": 8,
    }
    assert {k: report.counts[k] for k in expected} == expected
    assert out[-1]["turns"][0]["role"] == "assistant"  # a split part that opens with the model


def test_disabled_steps_do_not_run(conversations):
    report = DataReport()
    cfg = CleanConfig.from_mapping(
        {
            "html_to_markdown": False,
            "drop_empty_turns": False,
            "trim_to_last_assistant": False,
            "dedupe_exact": False,
            "dedupe_near_queries": {"enabled": False},
        }
    )
    assert clean(conversations, cfg, report) == conversations
    assert report.counts["clean_output_conversations"] == 12


def test_unknown_config_key_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"data.clean: unknown key\(s\) \['dedupe'\]; valid keys:"):
        CleanConfig.from_mapping({"dedupe": True})
    with pytest.raises(
        ValueError, match=r"data.clean.dedupe_near_queries: unknown key\(s\) \['bleu'\]"
    ):
        CleanConfig.from_mapping({"dedupe_near_queries": {"bleu": 80}})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"id": "x", "source": "s"}, r"conversation 0 \(id 'x'\): expected"),
        (
            {"id": "x", "source": "s", "turns": [{"role": "gpt", "content": "hi"}]},
            r"turn 0: expected \{'role': one of",
        ),
        ({"id": "x", "source": "s", "turns": [{"role": "user"}]}, r"turn 0: expected"),
        ("not a conversation", r"conversation 0: expected"),
    ],
)
def test_malformed_conversation_is_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        clean([bad], {}, DataReport())
