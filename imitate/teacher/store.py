"""An append-only JSONL output and its manifest: what lets a killed generation job continue.

The manifest is the commit point. It is replaced atomically (temp file, fsync, rename) after each
chunk's records are appended and fsynced, and says how many output lines are final (`written`),
how far the job got, and when (`committed_at`, so spend stored after it can be found again). When the job reopens, lines past `written` (a chunk cut short by a kill,
a torn last line) are cut off, so the file holds exactly the committed records, each once.
While a job has its output open it holds an exclusive `flock` on `<name>.lock` (released by the
kernel even on SIGKILL), so a second run on the same output is refused instead of interleaved.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)


def manifest_path(output: Path) -> Path:
    """`<name>.manifest.json` beside `<name>.jsonl`."""
    return output.with_name(output.stem + ".manifest.json")


class ResumableOutput:
    """The output file and manifest of one job, bound to the settings that make its records.

    Use as `with ResumableOutput(...) as store:`; `store.earlier` is the manifest of an earlier
    run (None if fresh).
    """

    def __init__(self, output: str | Path, settings: Mapping):
        self.path = Path(output).expanduser()
        if self.path.suffix != ".jsonl":
            raise ValueError(f"output {str(self.path)!r}: expected a .jsonl path")
        self.manifest_path = manifest_path(self.path)
        self.settings = json.loads(json.dumps(dict(settings), default=str))
        self.written = 0
        self.earlier: dict | None = None
        self._lock: int | None = None

    def __enter__(self) -> ResumableOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(self.path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.__exit__()
            raise RuntimeError(
                f"another run is writing {self.path} (it holds {self.path.stem}.lock); wait for "
                "it to end, or choose another output path"
            ) from None
        try:
            self.earlier = self._open()
        except BaseException:
            self.__exit__()  # a refused resume must not keep the output locked
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def _open(self) -> dict | None:
        """The manifest of an earlier run (None if fresh); cuts the output back to what it committed."""
        if not self.manifest_path.is_file():
            if self.path.exists() and self.path.stat().st_size > 0:
                raise FileExistsError(
                    f"{self.path} exists but has no manifest {self.manifest_path.name}: it is not a "
                    "job this can resume; move it away or choose another output path"
                )
            self.path.write_bytes(b"")
            return None
        manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        self._check_settings(manifest.get("settings", {}))
        self.written = int(manifest["written"])
        self._cut_to_committed()
        return manifest

    def records(self) -> list[dict]:
        """The committed records, in order."""
        with self.path.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines]

    def append(self, records: Iterable[Mapping]) -> None:
        """Append records durably (flush + fsync); they count once the next `commit` lands."""
        lines = [json.dumps(dict(r), ensure_ascii=False) + "\n" for r in records]
        if not lines:
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        self.written += len(lines)

    def commit(self, manifest: Mapping) -> dict:
        """Atomically replace the manifest with `manifest` + settings + the count of final lines."""
        full = {
            **manifest,
            "written": self.written,
            "committed_at": time.time(),
            "settings": self.settings,
        }
        temporary = self.manifest_path.with_name(self.manifest_path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(full, out, indent=2, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.manifest_path)
        _fsync_folder(self.manifest_path.parent)
        return full

    def _check_settings(self, earlier: Mapping) -> None:
        changed = sorted(
            key
            for key in set(earlier) | set(self.settings)
            if earlier.get(key) != self.settings.get(key)
        )
        if changed:
            details = "; ".join(
                f"{key}: was {earlier.get(key)!r}, now {self.settings.get(key)!r}"
                for key in changed
            )
            raise ValueError(
                f"{self.path} was started with other settings ({details}). Rerun with the settings "
                "it was started with to continue it, or choose a new output path"
            )

    def _cut_to_committed(self) -> None:
        data = self.path.read_bytes() if self.path.exists() else b""
        end, complete = 0, 0
        while complete < self.written:
            newline = data.find(b"\n", end)
            if newline == -1:
                raise ValueError(
                    f"{self.path} holds {complete} complete lines but its manifest "
                    f"{self.manifest_path.name} records {self.written}: the file was changed by "
                    "hand; restore it or start a new output path"
                )
            end, complete = newline + 1, complete + 1
        if end < len(data):
            log.info(
                "%s: cut %d bytes an interrupted run wrote past its last commit",
                self.path,
                len(data) - end,
            )
            with self.path.open("r+b") as out:
                out.truncate(end)
                out.flush()
                os.fsync(out.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable across power loss too (a kill alone cannot undo it)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
