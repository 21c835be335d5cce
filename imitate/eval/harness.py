"""Any lm-evaluation-harness task on the model imitate already holds, or on the same endpoint.

`conf/eval/task/lm_eval.yaml`; metrics land under `lm_eval/<task>/<metric>` (imitate.metrics),
per-sample outputs in the task's records, the lm-eval version and each task config's hash in
`info`. In process it wraps the loaded model and tokenizer in lm-eval's HFLM (no reload from
disk); against an `llm=` endpoint it uses lm-eval's OpenAI-compatible backends on the same base
URL, model and key variable.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence

from imitate import metrics
from imitate.eval.task_result import TaskResult
from imitate.hashing import short_hash
from imitate.llm.base import LLM

INSTALL = 'pip install -e ".[lm-eval]"'


class LMEvalTask:
    """lm-eval `tasks` (names or groups), scored by lm-eval's own code on imitate's model."""

    name = "lm_eval"

    def __init__(
        self,
        tasks: Sequence[str],
        num_fewshot: int | None = None,
        limit: int | float | None = None,
        batch_size: int = 8,
        include_path: Sequence[str] = (),
        apply_chat_template: bool = False,
        gen_kwargs: dict | None = None,
        seed: int = 1234,
        bootstrap_iters: int = 1000,
    ):
        if importlib.util.find_spec("lm_eval") is None:
            raise ImportError(f"the lm_eval eval task needs lm-evaluation-harness: {INSTALL}")
        if not tasks:
            raise ValueError("lm_eval task: `tasks` is empty; name lm-eval tasks, e.g. [gsm8k]")
        self.tasks, self.num_fewshot, self.limit = list(tasks), num_fewshot, limit
        self.batch_size, self.include_path = batch_size, [str(p) for p in include_path]
        self.apply_chat_template, self.gen_kwargs = apply_chat_template, dict(gen_kwargs or {})
        self.seed, self.bootstrap_iters = seed, bootstrap_iters
        self.prompt_format = f"lm-eval tasks {self.tasks}: each task's own prompt (doc_to_text)"

    def run(self, llm: LLM) -> TaskResult:
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager

        manager = TaskManager(include_path=self.include_path or None)
        output = simple_evaluate(
            model=harness_model(llm, self.batch_size),
            tasks=self.tasks,
            num_fewshot=self.num_fewshot,
            limit=self.limit,
            task_manager=manager,
            apply_chat_template=self.apply_chat_template,
            gen_kwargs=self.gen_kwargs or None,
            log_samples=True,
            random_seed=self.seed,
            numpy_random_seed=self.seed,
            torch_random_seed=self.seed,
            fewshot_random_seed=self.seed,
            bootstrap_iters=self.bootstrap_iters,
        )
        if output is None:  # lm-eval returns None on non-zero ranks
            return TaskResult({}, [], self.prompt_format)
        return TaskResult(
            harness_metrics(output["results"]),
            sample_records(output.get("samples", {})),
            self.prompt_format,
            info=harness_info(output),
        )


def harness_metrics(results: dict[str, dict]) -> dict[str, float]:
    """lm-eval's `{task: {"acc,none": 0.5, "alias": ...}}` under imitate's metric names."""
    named = {}
    for task, values in results.items():
        for key, value in values.items():
            if "," not in key or not isinstance(value, int | float) or isinstance(value, bool):
                continue  # alias, sample counts and "N/A" stderrs are not metrics
            metric, _, filter_name = key.partition(",")
            named[metrics.lm_eval_metric(task, metric, filter_name)] = float(value)
    return named


def sample_records(samples: dict[str, list[dict]]) -> list[dict]:
    """Per-sample rows (task, doc id, prompt, target, responses, scores) as plain JSON values."""
    rows = []
    for task, task_samples in samples.items():
        for sample in task_samples:
            rows.append(
                {
                    "task": task,
                    "doc_id": sample.get("doc_id"),
                    "prompt": _first_argument(sample),
                    "target": _plain(sample.get("target")),
                    "response": _plain(sample.get("filtered_resps")),
                }
                | {key: _plain(sample[key]) for key in sample.get("metrics", []) if key in sample}
            )
    return rows


def harness_info(output: dict) -> dict[str, str]:
    """The lm-eval version and a hash of each task's resolved config, for reproducibility."""
    info = {"lm_eval_version": _lm_eval_version()}
    for task, config in output.get("configs", {}).items():
        info[f"config_sha256.{task}"] = short_hash(config)
    return info


def harness_model(llm: LLM, batch_size: int):
    """lm-eval's model for `llm`: HFLM around the in-process model, or its OpenAI-compatible API."""
    model, tokenizer = getattr(llm, "model", None), getattr(llm, "tokenizer", None)
    if model is not None and hasattr(model, "generate") and tokenizer is not None:
        from lm_eval.models.huggingface import HFLM

        return HFLM(
            pretrained=model,
            tokenizer=tokenizer,
            batch_size=batch_size,
            max_length=llm.context_length,
            device=str(model.device),
        )
    base_url = getattr(llm, "base_url", None)
    if base_url is None:
        raise TypeError(
            f"lm_eval task: {llm.name} is neither an in-process model (llm=hf) nor an "
            "OpenAI-compatible endpoint (llm=local_server, gpt-3.5-turbo, ...)"
        )
    return _endpoint_model(llm, base_url)


def _endpoint_model(llm, base_url: str):
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    key_env = getattr(llm, "api_key_env", None)
    header = {"Authorization": f"Bearer {os.environ[key_env]}"} if key_env else None
    # Log-likelihood tasks need the served model's tokenizer (`llm.tokenizer`); generation does not.
    tokenizer = getattr(getattr(llm, "tokenizer", None), "name_or_path", None)
    return LocalCompletionsAPI(
        base_url=base_url.rstrip("/") + "/completions",
        model=llm.model,
        tokenizer=tokenizer,
        tokenizer_backend="huggingface" if tokenizer else None,
        tokenized_requests=False,
        num_concurrent=getattr(llm, "max_concurrency", 1),
        max_retries=getattr(llm, "max_retries", 3),
        max_length=llm.context_length or 2048,
        header=header,  # the key travels in the header only, never in results or records
    )


def _first_argument(sample: dict) -> str | None:
    arguments = sample.get("arguments") or []
    if arguments and isinstance(arguments[0], list | tuple) and arguments[0]:
        return str(arguments[0][0])
    return None


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")
