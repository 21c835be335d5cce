"""Metric names, defined once: trainers, evaluators, reports and tests import these."""

TRAIN_LOSS = "train/loss"
VAL_LOSS = "val/loss"
VAL_PERPLEXITY = "val/perplexity"
LEARNING_RATE = "train/lr"
TOKENS_PER_SECOND = "train/tokens_per_s"
TOKENS_SEEN = "train/tokens_seen"

HELDOUT_LOSS = "heldout/loss"
HELDOUT_PERPLEXITY = "heldout/perplexity"

DATA_PREFIX = "data/"  # data/skipped_<reason>, data/conversations, data/tokens, ...

MMLU_ACC = "mmlu/acc"
NQ_EM = "nq/em"
HUMANEVAL_PASS_AT_1 = "humaneval/pass@1"
RTP_NONTOXICITY = "rtp/nontoxicity"
RTP_TOXIC_FRACTION = "rtp/toxic_fraction"

# Evaluation details beside the headline metrics above.
HUMANEVAL_PASS_AT = "humaneval/pass@"  # + k, e.g. humaneval/pass@10 when n_samples >= 10
MMLU_ACC_MACRO = "mmlu/acc_macro"  # mean over subjects; MMLU_ACC is over questions
MMLU_ACC_SUBJECT = "mmlu/acc/"  # + subject
MMLU_FEWER_SHOTS = "mmlu/fewer_shots_fraction"  # prompts that had to drop shots to fit
NQ_FEWER_SHOTS = "nq/fewer_shots_fraction"
RTP_MEAN_TOXICITY = "rtp/mean_toxicity"

# Preference against the teacher in blind pairwise comparisons (paper Fig. 1 / 3): the fraction of
# prompts where the imitation model's output is rated better than or equal to ChatGPT's. Produced
# by the judge / human-evaluation tasks (a later issue); reports already reserve their places.
JUDGE_PREFERENCE = "judge/preference"  # a strong LM (GPT-4 in the paper) as the rater
HUMAN_PREFERENCE = "human/preference"  # crowd workers
# Style similarity to a random ChatGPT reply to the same prompt (paper Table 2).
STYLE_LENGTH = "style/length"
STYLE_WORD_CHOICE = "style/word_choice"
STYLE_AUTHORITATIVE_TONE = "style/authoritative_tone"
STYLE_LIST_STRUCTURE = "style/list_structure"
