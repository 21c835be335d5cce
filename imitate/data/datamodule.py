"""The LightningDataModule: builds (or loads from cache) packed train/val blocks and held-out prompts."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from datasets.fingerprint import Hasher
from filelock import FileLock
from torch.utils.data import DataLoader, Dataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler

from imitate.data.budget import parse_token_count
from imitate.data.format import ChatFormat, ConversationEncoder
from imitate.data.leakage import LeakageConfig
from imitate.data.overlap import DiversityConfig
from imitate.data.paths import resolve_data_path
from imitate.data.pipeline import Settings, build, stream_stats
from imitate.data.report import DataReport
from imitate.data.source_formats import SourceConfig

log = logging.getLogger(__name__)

PIPELINE_VERSION = 5  # 5: marker and turn text tokenised together. Bump when preprocessing changes, so old caches are not reused
_ONE_REPLICA = {"num_replicas": 1, "rank": 0}  # no trainer, or one that is not distributed


class BlockDataset(Dataset):
    """Fixed-length blocks: input_ids, labels and attention_mask (0 on the last block's padding)."""

    def __init__(self, ids: np.ndarray, labels: np.ndarray, lengths: np.ndarray) -> None:
        self.ids, self.labels, self.lengths = ids, labels, lengths

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        mask = torch.zeros(self.ids.shape[1], dtype=torch.long)
        mask[: self.lengths[index]] = 1
        return {
            "input_ids": torch.from_numpy(self.ids[index].astype(np.int64)),
            "labels": torch.from_numpy(self.labels[index].astype(np.int64)),
            "attention_mask": mask,
        }


class ImitationDataModule(pl.LightningDataModule):
    """Imitation data for one run; ``prepare(tokenizer)`` must be called before the trainer uses it."""

    def __init__(
        self,
        sources: dict[str, dict],
        block_size: int = 2048,
        max_tokens: int | str | None = None,
        val_conversations: int = 64,
        heldout_prompts: int = 8,
        micro_batch_size: int = 4,
        seed: int = 1234,
        chat_format: dict | None = None,
        clean: dict | None = None,
        leakage: dict | None = None,
        diversity: dict | None = None,
        allow_smaller: bool = False,
        cache_dir: str | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if not sources:
            raise ValueError(
                "data.sources is empty; name at least one source (see conf/data/sharegpt.yaml)"
            )
        self.sources = {name: _source_config(name, cfg) for name, cfg in sources.items()}
        self.settings = Settings(
            block_size=block_size,
            max_tokens=None if max_tokens is None else parse_token_count(max_tokens),
            val_conversations=val_conversations,
            heldout_prompts=heldout_prompts,
            seed=seed,
            clean=None if clean is None else dict(clean),
            leakage=LeakageConfig.from_mapping(leakage or {}),
            allow_smaller=allow_smaller,
            diversity=DiversityConfig(**dict(diversity or {"enabled": False})),
        )
        self.micro_batch_size = micro_batch_size
        self.seed = seed
        self.chat_format = ChatFormat(**(chat_format or {}))
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.num_workers = num_workers
        self.report = DataReport()
        self.heldout: list[dict] = []
        self.card: dict = {}
        self.stats: dict[str, float] = {}

    def prepare(self, tokenizer) -> None:
        """Load the packed blocks from cache, or build and cache them."""
        encoder = ConversationEncoder(tokenizer, self.chat_format)
        if self.cache_dir is None:
            self._set(build(self.sources, self.settings, encoder, tokenizer.pad_token_id))
            return
        folder = self.cache_dir / self.fingerprint(tokenizer)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):  # grid cells sharing data build it once
            if not (folder / "done").exists():
                _save(build(self.sources, self.settings, encoder, tokenizer.pad_token_id), folder)
            else:
                log.info("data: reusing preprocessed blocks from %s", folder)
            self._set(_load(folder))

    def fingerprint(self, tokenizer) -> str:
        """Identifies preprocessing inputs: source files, tokenizer, format, budget, filters, split."""
        sources = {name: [asdict(s), _file_identity(s.path)] for name, s in self.sources.items()}
        files = [_file_identity(p) for p in self.settings.leakage.eval_prompt_files]
        return Hasher.hash(
            [
                PIPELINE_VERSION,
                sources,
                files,
                _tokenizer_identity(tokenizer),
                self.chat_format,
                asdict(self.settings),
            ]
        )

    def _set(self, built: dict) -> None:
        self.train_set = BlockDataset(*built["train"])
        self.val_set = BlockDataset(*built["val"])
        self.heldout = built["heldout"]
        self.card = built["card"]
        self.report = DataReport()
        self.report.counts.update(built["report"])
        self.stats = stream_stats(built["train"], "train") | stream_stats(built["val"], "val")

    def train_dataloader(self) -> StatefulDataLoader:
        """Shuffled by ``seed`` (a new order each epoch); each data-parallel rank reads its share.

        Lightning calls this inside ``fit``, once the strategy knows the data-parallel layout. The
        sampler is a ``DistributedSampler``, so Lightning keeps it rather than wrapping it in one of
        its own, and it is stateful: the checkpoint holds how far each rank read, and a resumed run
        reads on from there. (Wrapped, the position was lost with the wrapped sampler's state.)
        """
        layout = self.trainer.distributed_sampler_kwargs if self.trainer is not None else None
        sampler = StatefulDistributedSampler(
            self.train_set, **(layout or _ONE_REPLICA), shuffle=True, seed=self.seed
        )
        return _NextEpochAfterEndLoader(
            self.train_set, self.micro_batch_size, sampler=sampler, num_workers=self.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, self.micro_batch_size, num_workers=self.num_workers)


class _NextEpochAfterEndLoader(StatefulDataLoader):
    """A saved position at the very end of an epoch restores as "the next epoch from its start".

    A checkpoint taken after an epoch's last batch holds a loader that has read everything.
    Lightning, resuming, counts that epoch as done and starts the next one, but a stateful loader
    applies a restored position to its next ``iter()``: the next epoch would read nothing and be
    skipped.
    """

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get("_num_yielded", 0) >= len(self):
            return
        super().load_state_dict(state_dict)


def _source_config(name: str, cfg) -> SourceConfig:
    try:
        return SourceConfig(**dict(cfg))
    except (TypeError, ValueError) as err:
        raise ValueError(f"data.sources.{name}: {err}") from err


def _file_identity(path: str) -> str:
    """Path plus size and mtime for local files/folders (a changed file busts the cache)."""
    try:
        local = resolve_data_path(path, what="data source")  # where the reader will read
    except FileNotFoundError:
        return path  # `package` or an HF datasets id
    files = sorted(local.rglob("*")) if local.is_dir() else [local]
    return str(local.resolve()) + "".join(
        f"|{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files if f.is_file()
    )


def _tokenizer_identity(tokenizer) -> str:
    """The full serialised fast tokenizer (vocab, merges, added tokens), or its name as a fallback."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend.to_str() if backend is not None else f"{tokenizer.name_or_path}:{len(tokenizer)}"


def _save(built: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        ids, labels, lengths = built[split]
        np.savez(folder / f"{split}.npz", ids=ids, labels=labels, lengths=lengths)
    for name in ("heldout", "report", "card"):
        (folder / f"{name}.json").write_text(json.dumps(built[name], default=str))
    (folder / "done").touch()


def _load(folder: Path) -> dict:
    built: dict = {}
    for split in ("train", "val"):
        with np.load(folder / f"{split}.npz") as arrays:
            built[split] = (arrays["ids"], arrays["labels"], arrays["lengths"])
    for name in ("heldout", "report", "card"):
        built[name] = json.loads((folder / f"{name}.json").read_text())
    return built
