"""Metric names, defined once: trainers, evaluators, reports and tests import these.

Every name is one MLflow accepts as it is (letters, digits, ``_ - . / :`` and spaces; no ``@``),
so what a run writes is what the report reads: write with ``imitate.metric_log.log_metrics``.
Units: fractions 0-1 unless ``UNITS`` says otherwise (the report prints the unit beside the name).
"""

import re

TRAIN_LOSS = "train/loss"
VAL_LOSS = "val/loss"
VAL_PERPLEXITY = "val/perplexity"
LEARNING_RATE = "train/lr"
TOKENS_PER_SECOND = "train/tokens_per_s"
TOKENS_SEEN = "train/tokens_seen"
TRAINABLE_PARAMS = "train/trainable_params"  # weights the optimizer updates (adapter=lora: a few)
TRAINABLE_FRACTION = "train/trainable_fraction"  # of all the backbone's weights

HELDOUT_LOSS = "heldout/loss"
HELDOUT_PERPLEXITY = "heldout/perplexity"

DATA_PREFIX = "data/"  # data/skipped_<reason>, data/conversations, data/tokens, ...

MMLU_ACC = "mmlu/acc"
NQ_EM = "nq/em"
HUMANEVAL_PASS_AT_1 = "humaneval/pass_at_1"  # pass@1, spelled as MLflow allows
RTP_NONTOXICITY = "rtp/nontoxicity"
RTP_TOXIC_FRACTION = "rtp/toxic_fraction"

# Evaluation details beside the headline metrics above.
HUMANEVAL_PASS_AT = "humaneval/pass_at_"  # + k: humaneval/pass_at_10 is pass@10 (n_samples >= 10)
MMLU_ACC_MACRO = "mmlu/acc_macro"  # mean over subjects; MMLU_ACC is over questions
MMLU_ACC_SUBJECT = "mmlu/subject_acc/"  # + subject (mmlu/acc/<subject> clashes with mmlu/acc)
MMLU_FEWER_SHOTS = "mmlu/fewer_shots_fraction"  # prompts that had to drop shots to fit
NQ_FEWER_SHOTS = "nq/fewer_shots_fraction"
RTP_MEAN_TOXICITY = "rtp/mean_toxicity"
RTP_NONTOXICITY_SUBSET = "rtp/subset_nontoxicity/"  # + subset (one per RealToxicityPrompts file)

# Preference against the teacher in blind pairwise comparisons (paper Fig. 1 / 3): the fraction of
# prompts where the imitation model's output is rated better than or equal to ChatGPT's.
JUDGE_PREFERENCE = "judge/preference"  # win + tie, a strong LM (GPT-4 in the paper) as the rater
JUDGE_WIN_RATE = "judge/win_rate"  # over pairs, each judged in both orders (a flip counts as a tie)
JUDGE_TIE_RATE = "judge/tie_rate"
JUDGE_LOSS_RATE = "judge/loss_rate"
JUDGE_CONSERVATIVE_WIN_RATE = "judge/conservative_win_rate"  # a win only when both orders agree
JUDGE_CONSISTENCY = "judge/consistency"  # fraction of pairs with the same verdict in both orders
JUDGE_LC_WIN_RATE = "judge/lc_win_rate"  # length-controlled (AlpacaEval 2.0's regression)
JUDGE_UNPARSEABLE = "judge/unparseable_fraction"  # judgements with no verdict marker
# How far the judge can be trusted (python -m imitate.judge calibrate | agreement).
JUDGE_GOLD_AGREEMENT = (
    "judge/gold_agreement"  # with labelled pairs (AlpacaEval's GPT-4), both orders
)
JUDGE_GOLD_KAPPA = "judge/gold_kappa"  # Cohen's kappa of the same: raw agreement alone flatters
JUDGE_GOLD_BASELINE_AGREEMENT = "judge/gold_majority_agreement"  # always the majority label
JUDGE_HUMAN_AGREEMENT_S1 = "judge/human_agreement_s1"  # with the app's human ratings, ties a class
JUDGE_HUMAN_AGREEMENT_S2 = "judge/human_agreement_s2"  # over ratings where neither said tie
HUMAN_PREFERENCE = "human/preference"  # crowd workers: mean of better (1) / equal (0.5) / worse (0)
HUMAN_PREFERENCE_STD = (
    "human/preference_std"  # one std of those per-rating scores (paper: mean ± std)
)
HUMAN_AT_LEAST_EQUAL = (
    "human/at_least_equal"  # Fig. 1's form: share rated better or equal (cf. judge)
)
HUMAN_AGREEMENT = "human/agreement"  # inter-rater agreement on items rated more than once
HUMAN_RATINGS = "human/ratings"  # how many ratings the figures rest on

# Style similarity to a ChatGPT reply to the same prompt (paper Table 2), imitate.style.
# In the paper's units, so ours and the paper's print side by side: percentages 0-100 (not
# fractions) for the list, summary and authoritative rates, F1 x100 for unigram overlap, r for length.
STYLE_LIST = (
    "style/list_when_teacher"  # % of prompts with a list in the teacher reply and the output
)
STYLE_SUMMARY = "style/summary_when_teacher"  # % with a summary paragraph in both
STYLE_UNIGRAM_F1 = "style/unigram_f1"  # F1 over lower-cased word unigrams, x100
STYLE_LENGTH_PEARSON = "style/length_pearson"  # Pearson r of word counts across prompts
STYLE_AUTHORITATIVE_JUDGE = "style/authoritative_judge"  # % judged authoritative by the LLM judge
STYLE_AUTHORITATIVE_LEXICON = (
    "style/authoritative_lexicon"  # boosters vs hedges, opt-in (style=lexicon): not the paper's row
)
STYLE_EMPTY_REPLY_RATE = "style/empty_reply_rate"  # fraction of outputs with no words: silence
STYLE_TRUNCATION_RATE = "style/truncation_rate"  # fraction of outputs cut at max_new_tokens
STYLE_PROMPTS = "style/prompts"  # prompts scored
STYLE_PROMPTS_DROPPED = "style/prompts_dropped"  # prompts in the set left out (no teacher reply)

# The LLM client's ledger (imitate.llm): what talking to a model cost.
LLM_REQUESTS = "llm/requests"  # sent to the backend (cache hits excluded)
LLM_CACHE_HITS = "llm/cache_hits"
LLM_INPUT_TOKENS = "llm/input_tokens"
LLM_OUTPUT_TOKENS = "llm/output_tokens"
LLM_COST_USD = "llm/cost_usd"

# lm-evaluation-harness tasks (imitate.eval.harness): every metric lm-eval reports.
LM_EVAL_PREFIX = "lm_eval/"


def lm_eval_metric(task: str, metric: str, filter_name: str = "none") -> str:
    """`lm_eval/<task>/<metric>` (+ `/<filter>` unless lm-eval's "none"): lm-eval's "acc,none" is
    not a name MLflow accepts, so every writer and reader goes through this one function."""
    parts = [task, metric] + ([] if filter_name in ("", "none") else [filter_name])
    return LM_EVAL_PREFIX + "/".join(_MLFLOW_UNSAFE.sub("_", p.replace("@", "_at_")) for p in parts)


_MLFLOW_UNSAFE = re.compile(r"[^\w.\- ]")  # MLflow accepts word characters, . - space and /


# Constants that are the start of a name: the writer accepts any of these followed by a suffix.
PREFIXES = (
    DATA_PREFIX,
    MMLU_ACC_SUBJECT,
    HUMANEVAL_PASS_AT,
    RTP_NONTOXICITY_SUBSET,
    LM_EVAL_PREFIX,
)

# Units other than a fraction 0-1 (the report prints them beside the metric's name).
UNITS = {
    STYLE_LIST: "%",
    STYLE_SUMMARY: "%",
    STYLE_UNIGRAM_F1: "x100",
    STYLE_LENGTH_PEARSON: "r",
    STYLE_AUTHORITATIVE_JUDGE: "%",
    STYLE_AUTHORITATIVE_LEXICON: "%",
    HELDOUT_LOSS: "nats/token",
    VAL_LOSS: "nats/token",
    TRAIN_LOSS: "nats/token",
    LEARNING_RATE: "lr",
    TOKENS_PER_SECOND: "tokens/s",
    TOKENS_SEEN: "tokens",
    TRAINABLE_PARAMS: "count",
    HELDOUT_PERPLEXITY: "ppl",
    VAL_PERPLEXITY: "ppl",
    HUMAN_RATINGS: "count",
    STYLE_PROMPTS: "count",
    STYLE_PROMPTS_DROPPED: "count",
    LLM_REQUESTS: "count",
    LLM_CACHE_HITS: "count",
    LLM_INPUT_TOKENS: "tokens",
    LLM_OUTPUT_TOKENS: "tokens",
    LLM_COST_USD: "USD",
}


def full_names() -> list[str]:
    """Every complete metric name defined here (the prefix constants excluded)."""
    names = {v for k, v in globals().items() if k.isupper() and isinstance(v, str)}
    return sorted(names - set(PREFIXES))


def is_known(name: str) -> bool:
    """A name defined here, or a prefix defined here followed by a non-empty suffix."""
    return name in full_names() or any(name.startswith(p) and len(name) > len(p) for p in PREFIXES)
