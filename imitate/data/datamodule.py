"""The LightningDataModule: builds (or loads from cache) packed train/val blocks and held-out prompts."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from datasets.fingerprint import Hasher
from filelock import FileLock
from torch.utils.data import DataLoader, Dataset

from imitate.data.budget import parse_token_count
from imitate.data.conversations import ASSISTANT, normalise_all
from imitate.data.format import ChatFormat, ConversationEncoder
from imitate.data.pack import TokenStream, pack_blocks
from imitate.data.report import DataReport
from imitate.data.sources import read_records

log = logging.getLogger(__name__)

PIPELINE_VERSION = 1  # bump when preprocessing changes, so old caches are not reused
_ENCODE_CHUNK = 256  # conversations per tokenizer call


@dataclass
class SourceConfig:
    path: str = "package"
    name: str = "sharegpt"
    split: str = "train"


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
        source: dict,
        block_size: int = 2048,
        max_tokens: int | str | None = None,
        val_conversations: int = 64,
        heldout_prompts: int = 8,
        micro_batch_size: int = 4,
        seed: int = 1234,
        chat_format: dict | None = None,
        cache_dir: str | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.source = SourceConfig(**source)
        self.block_size = block_size
        self.max_tokens = None if max_tokens is None else parse_token_count(max_tokens)
        self.val_conversations = val_conversations
        self.heldout_prompts = heldout_prompts
        self.micro_batch_size = micro_batch_size
        self.seed = seed
        self.chat_format = ChatFormat(**(chat_format or {}))
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.num_workers = num_workers
        self.report = DataReport()
        self.heldout: list[dict] = []
        self.stats: dict[str, float] = {}

    def prepare(self, tokenizer) -> None:
        """Load the packed blocks from cache, or build and cache them."""
        self.pad_id = tokenizer.pad_token_id
        key = self.fingerprint(tokenizer)
        if self.cache_dir is None:
            self._set(self._build(tokenizer))
            return
        folder = self.cache_dir / key
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):  # grid cells sharing data build it once
            if not (folder / "done").exists():
                _save(self._build(tokenizer), folder)
            else:
                log.info("data: reusing preprocessed blocks from %s", folder)
            self._set(_load(folder))

    def fingerprint(self, tokenizer) -> str:
        """Identifies preprocessing inputs: source file, tokenizer, format, block size, budget, split."""
        path = self.source.path
        source_id = path
        if Path(path).is_file():
            stat = Path(path).stat()
            source_id = f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        return Hasher.hash(
            [
                PIPELINE_VERSION,
                source_id,
                self.source.split,
                _tokenizer_identity(tokenizer),
                self.chat_format,
                self.block_size,
                self.max_tokens,
                self.val_conversations,
                self.heldout_prompts,
                self.seed,
            ]
        )

    def _build(self, tokenizer) -> dict:
        report = DataReport()
        conversations = list(
            normalise_all(
                read_records(self.source.path, report, self.source.split), self.source.name, report
            )
        )
        if len(conversations) <= self.val_conversations:
            raise ValueError(
                f"data source {self.source.path!r} has {len(conversations)} usable conversations; "
                f"need more than data.val_conversations={self.val_conversations}"
            )
        random.Random(self.seed).shuffle(conversations)
        # Held-out conversations come first in the seeded order, so every budget shares the same
        # validation set and the training subsets of a budget ladder are prefixes of each other.
        val, train = (
            conversations[: self.val_conversations],
            conversations[self.val_conversations :],
        )
        encoder = ConversationEncoder(tokenizer, self.chat_format)
        train_stream, used = _encode_until_full(encoder, train, self.max_tokens)
        if self.max_tokens is not None and train_stream.num_tokens < self.max_tokens:
            raise ValueError(
                f"data.max_tokens={self.max_tokens:,} but source {self.source.path!r} holds only "
                f"{train_stream.num_tokens:,} training tokens; lower data.max_tokens"
            )
        report.count("train_conversations_used", used)
        report.count("train_conversations_unused", len(train) - used)
        val_stream, _ = _encode_until_full(encoder, val, None)
        return {
            "train": pack_blocks(*train_stream.arrays(), self.block_size, tokenizer.pad_token_id),
            "val": pack_blocks(*val_stream.arrays(), self.block_size, tokenizer.pad_token_id),
            "heldout": [_prompt_and_reply(c) for c in val[: self.heldout_prompts]],
            "report": dict(report.counts),
        }

    def _set(self, built: dict) -> None:
        self.train_set = BlockDataset(*built["train"])
        self.val_set = BlockDataset(*built["val"])
        self.heldout = built["heldout"]
        self.report = DataReport()
        self.report.counts.update(built["report"])
        self.stats = _stream_stats(built["train"], "train") | _stream_stats(built["val"], "val")

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.train_set,
            self.micro_batch_size,
            shuffle=True,
            generator=generator,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, self.micro_batch_size, num_workers=self.num_workers)


def _tokenizer_identity(tokenizer) -> str:
    """The full serialised fast tokenizer (vocab, merges, added tokens), or its name as a fallback."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend.to_str() if backend is not None else f"{tokenizer.name_or_path}:{len(tokenizer)}"


def _encode_until_full(
    encoder: ConversationEncoder, conversations: list[dict], max_tokens: int | None
):
    stream = TokenStream(max_tokens)
    used = 0
    for start in range(0, len(conversations), _ENCODE_CHUNK):
        if stream.full:
            break
        used += stream.extend(encoder.encode_batch(conversations[start : start + _ENCODE_CHUNK]))
    return stream, used


def _prompt_and_reply(conversation: dict) -> dict:
    """The dialogue up to the first teacher reply, and that reply (for the generations table)."""
    turns = conversation["turns"]
    first_reply = next(i for i, t in enumerate(turns) if t["role"] == ASSISTANT)
    return {
        "id": conversation["id"],
        "prompt_turns": turns[:first_reply],
        "reference": turns[first_reply]["content"],
    }


def _stream_stats(
    blocks: tuple[np.ndarray, np.ndarray, np.ndarray], split: str
) -> dict[str, float]:
    _, labels, lengths = blocks
    return {
        f"data/{split}_tokens": float(lengths.sum()),
        f"data/{split}_supervised_tokens": float((labels != -100).sum()),
        f"data/{split}_blocks": float(len(lengths)),
    }


def _save(built: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        ids, labels, lengths = built[split]
        np.savez(folder / f"{split}.npz", ids=ids, labels=labels, lengths=lengths)
    (folder / "heldout.json").write_text(json.dumps(built["heldout"]))
    (folder / "report.json").write_text(json.dumps(built["report"]))
    (folder / "done").touch()


def _load(folder: Path) -> dict:
    built: dict = {}
    for split in ("train", "val"):
        with np.load(folder / f"{split}.npz") as arrays:
            built[split] = (arrays["ids"], arrays["labels"], arrays["lengths"])
    built["heldout"] = json.loads((folder / "heldout.json").read_text())
    built["report"] = json.loads((folder / "report.json").read_text())
    return built
