"""Keep secrets out of what a run writes: one ``redact`` for params, tags, artifacts and Hydra's files.

A leaf module (standard library only) so every layer's writer can use it. Secrets are the values
of keys named like a secret (``api_key``, ``hub_token``, ``password``, ``secret``, ``credentials``),
``key=value`` overrides with such keys (in override lists and command lines), the values of
environment variables named that way (``OPENAI_API_KEY``, ``HF_TOKEN``), passwords in URLs
(``https://user:pass@host``) and any value the caller already knows to be secret. Once found in
a tree, a secret value is also scrubbed where it reappears under an innocuous key.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8  # shorter values (``1``, ``true``) would scrub ordinary text

_SECRET_WORDS = {"password", "passwd", "passphrase", "secret", "credential", "credentials"}
_SECRET_WORDS |= {"apikey"}
_SECRET_PAIRS = {("api", "key"), ("access", "key"), ("private", "key")}
# ``pad_token: <pad>`` is a tokenizer's special token, not a credential.
_SPECIAL_TOKENS = {"bos", "eos", "pad", "unk", "sep", "cls", "mask"}
# ``api_key_env: OPENAI_API_KEY`` names the variable that holds the secret: the name is not secret.
_ENV_VAR_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# key=value as Hydra overrides spell it (``+tracking.api_key=...``, ``~x``, ``a@pkg=...``).
_OVERRIDE = re.compile(
    r"""(?P<key>[+~]{0,2}[A-Za-z_][\w.\-/@]*)=(?P<value>'[^']*'|"[^"]*"|[^\s,]+)"""
)
_URL_PASSWORD = re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+@")


def is_secret_key(key: str) -> bool:
    """``api_key``, ``hub_token``, ``DB_PASSWORD``, ``apiKey``: yes; ``max_tokens``, ``tokenizer``: no."""
    words = _words(key)
    if not words or words[-1] == "env":
        return False
    if _SECRET_WORDS.intersection(words) or _SECRET_PAIRS.intersection(
        zip(words, words[1:], strict=False)
    ):
        return True
    return words[-1] == "token" and (len(words) == 1 or words[-2] not in _SPECIAL_TOKENS)


def redact(value: Any, known: Iterable[str] = ()) -> Any:
    """``value`` (a dict/list tree or a string) with every secret in it replaced by ``<redacted>``."""
    secrets = set(known) | environment_secrets() | secret_values(value)
    ordered = sorted((s for s in secrets if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)
    return _scrub(value, ordered)


def secret_values(value: Any) -> set[str]:
    """The secrets a tree or string holds: values under secret-named keys and in secret overrides."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _secret_entry(str(key), item):
                found |= _leaves(item)
            else:
                found |= secret_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= secret_values(item)
    elif isinstance(value, str):
        found |= _override_secrets(value)
    return found


def environment_secrets(environ: Mapping[str, str] | None = None) -> set[str]:
    """Values of environment variables named like secrets (long enough to be one)."""
    environ = os.environ if environ is None else environ
    return {
        value
        for name, value in environ.items()
        if is_secret_key(name) and len(value) >= MIN_SECRET_LENGTH
    }


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _secret_entry(str(key), item) else _scrub(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if value is not None and not isinstance(value, bool) and str(value) in secrets:
        return REDACTED  # a numeric secret (a PIN) given under an innocuous key
    return value


def _scrub_text(text: str, secrets: list[str]) -> str:
    text = _OVERRIDE.sub(
        lambda m: f"{m['key']}={REDACTED}" if _secret_override(m["key"], m["value"]) else m[0],
        text,
    )
    text = _URL_PASSWORD.sub(f"{REDACTED}@", text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def is_pasted_secret(key: str, value: Any) -> bool:
    """``api_key_env: OPENAI_API_KEY`` names a variable; anything else there is a pasted secret.

    An interpolation (``${oc.env:...}``) is left to what it resolves to.
    """
    words = _words(key)
    return (
        words[-1:] == ["env"]
        and is_secret_key("_".join(words[:-1]))
        and value is not None
        and not (isinstance(value, str) and _ENV_VAR_NAME.fullmatch(value))
        and not (isinstance(value, str) and value.startswith("${"))
    )


def _secret_entry(key: str, item: Any) -> bool:
    if item is None:
        return False  # an unset secret holds nothing; "None" is worth seeing
    return is_secret_key(key) or is_pasted_secret(key, item)


def _secret_override(key: str, value: str) -> bool:
    bare = _bare(key)
    return is_secret_key(bare) or is_pasted_secret(bare, _unquote(value))


def _override_secrets(text: str) -> set[str]:
    whole = re.fullmatch(r"[+~]{0,2}([^=\s]+)=(.+)", text, flags=re.DOTALL)
    if whole and _secret_override(whole[1], whole[2]):
        return {_unquote(whole[2])}  # one override: the value is everything after '='
    return {
        _unquote(m["value"])
        for m in _OVERRIDE.finditer(text)
        if _secret_override(m["key"], m["value"])
    }


def _leaves(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return set().union(*(_leaves(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_leaves(v) for v in value)) if value else set()
    return set() if value is None or isinstance(value, bool) else {str(value)}


def _bare(key: str) -> str:
    """``+tracking.api_key@pkg`` -> ``api_key``: the last part of an override's key."""
    return key.lstrip("+~").split("@")[0].rsplit(".", 1)[-1].rsplit("/", 1)[-1]


def _unquote(value: str) -> str:
    return value[1:-1] if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"" else value


def _words(key: str) -> list[str]:
    """``hubToken`` / ``HUB_TOKEN`` / ``hub-token`` -> ``['hub', 'token']``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return re.findall(r"[a-z0-9]+", spaced.lower())


class RedactingStream:
    """A console stream that redacts each write; everything else is the wrapped stream's.

    Catches what no writer of imitate's controls: Hydra's own error report, a traceback whose
    message quotes a config value, a library's log line. ``known`` grows as the entry point
    learns the config's secrets (``add_console_secrets``).
    """

    def __init__(self, stream: TextIO, known: Iterable[str] = ()) -> None:
        self._stream = stream
        self.known = set(known) | environment_secrets()

    def write(self, text: str) -> int:
        secrets = self.known | secret_values(text)
        ordered = sorted((s for s in secrets if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        self._stream.write(_scrub_text(text, ordered))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding, ...
        return getattr(self._stream, name)


@contextmanager
def redacted_console(known: Iterable[str] = ()) -> Iterator[None]:
    """sys.stdout and sys.stderr redacted (environment secrets, ``known``) inside the block."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(out, known), RedactingStream(err, known)  # type: ignore[assignment]  # a TextIO by delegation
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def add_console_secrets(values: Iterable[str]) -> None:
    """Secrets found once the config is composed (a key pasted into a YAML file) join the redaction."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, RedactingStream):
            stream.known |= set(values)
