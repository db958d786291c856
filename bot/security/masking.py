"""Secret hygiene: one masking function for everything that leaves the process.

`Masker.mask` replaces the values of the bot's own secrets (and tokens registered at run time)
and the patterns of common credentials with a marker naming the kind, e.g. `***github-token***`.
Apply it to logs (`MaskingFilter` / `install_masking`), artifacts and request bodies
(`mask_obj`), prompts, PR and issue bodies, check-run output and dashboard pages.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.shared.errors import ConfigError

if TYPE_CHECKING:
    from bot.shared.config import Settings

MIN_SECRET_CHARS = 8
SECRET_MARKER = "***draftsmith-secret***"
REDACTED_MARKER = "***redacted***"


def marker(kind: str) -> str:
    """The text that replaces a credential of `kind`."""
    return f"***{kind}***"


def _looks_random(value: str) -> bool:
    """A token-like string has a digit and an upper-case letter (words and slugs rarely do)."""
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value)


@dataclass(frozen=True)
class CredentialPattern:
    """A kind of credential, the regex that finds it, and the group that holds the secret part."""

    kind: str
    regex: re.Pattern[str]
    group: int = 0
    needs_randomness: bool = False

    def spans(self, text: str) -> Iterable[tuple[int, int]]:
        """Offsets of the secret parts of every match in `text`."""
        for match in self.regex.finditer(text):
            if self.needs_randomness and not _looks_random(match.group(self.group)):
                continue
            yield match.span(self.group)


def _p(
    kind: str, regex: str, group: int = 0, flags: int = 0, random: bool = False
) -> CredentialPattern:
    return CredentialPattern(kind, re.compile(regex, flags), group, random)


# Order matters: whole blocks and headers before the tokens they may contain.
CREDENTIAL_PATTERNS: tuple[CredentialPattern, ...] = (
    _p(
        "private-key",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:.{0,16000}?-----END[A-Z0-9 ]{0,40}"
        r"PRIVATE KEY(?: BLOCK)?-----|(?:[A-Za-z0-9+/=\s:,-]|\\n){0,20000})",
        flags=re.DOTALL,
    ),
    _p(
        "bearer-token",
        r"(?i:\bauthorization\b[\"']?\s*+[:=]\s*+[\"']?\s*+(?:bearer|token)\s+)"
        r"([A-Za-z0-9._~+/=-]{8,})",
        group=1,
    ),
    _p(
        "basic-auth",
        r"(?i:\bauthorization\b[\"']?\s*+[:=]\s*+[\"']?\s*+basic\s+)([A-Za-z0-9+/=]{8,})",
        group=1,
    ),
    _p("bearer-token", r"(?i:\bbearer\s+)([A-Za-z0-9._~+/-]{16,}=*)", group=1, random=True),
    _p("url-credentials", r"(?i)\b[a-z][a-z0-9+.-]{1,20}://([^/\s:@\"'<>]+:[^/\s@\"'<>]+)@", 1),
    _p("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,255}\b"),
    _p("github-token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    _p(
        "openai-key",
        r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}",
        random=True,
    ),
    _p("aws-access-key-id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    _p(
        "aws-secret-key",
        r"(?i:aws_?secret_?(?:access_?)?key[\"']?\s*+[:=]\s*+[\"']?)([A-Za-z0-9/+=]{40})"
        r"(?![A-Za-z0-9/+=])",
        group=1,
    ),
    _p("slack-token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
    _p("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    _p("gitlab-token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    _p("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    _p("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _p("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}\b", random=True),
)

_SENSITIVE_KEY_RE = re.compile(
    r"^(?:.*[_-])?(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|authorization|client[_-]?secret|webhook[_-]?secret|credentials?)$",
    re.IGNORECASE,
)


def _sensitive_item(key: object, value: object) -> bool:
    """A non-empty string under a key that names a secret (`password`, `api_key`, ...)."""
    return (
        isinstance(key, str)
        and isinstance(value, str)
        and bool(value)
        and _SENSITIVE_KEY_RE.match(key) is not None
    )


def mask_credentials(text: str) -> str:
    """Replace the patterns of common credentials in `text` (no knowledge of our own secrets)."""
    for pattern in CREDENTIAL_PATTERNS:
        spans = list(pattern.spans(text))
        for start, end in reversed(spans):
            text = text[:start] + marker(pattern.kind) + text[end:]
    return text


class Masker:
    """Masks the bot's own secret values and common credential patterns; thread-safe."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        for value in secrets:
            self.add(value)

    @classmethod
    def from_settings(cls, settings: Settings, extra: Iterable[str] = ()) -> Masker:
        """A masker for the values of `settings.secret_values()` plus `extra` (e.g. API keys)."""
        return cls([*settings.secret_values(), *extra])

    def add(self, value: str) -> None:
        """Register a secret value (e.g. an installation token) to be masked from now on."""
        value = value.strip()
        if len(value) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"a secret registered for masking is shorter than {MIN_SECRET_CHARS} characters",
                "use a random secret of at least 16 characters (e.g. `openssl rand -hex 32`)",
            )
        variants = {value, quote(value, safe="")}
        # A multi-line secret (a PEM key) can leak one line at a time.
        variants.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 16)
        with self._lock:
            self._values.update(variants)
            ordered = sorted(self._values, key=len, reverse=True)
            self._regex = re.compile("|".join(re.escape(v) for v in ordered))

    def mask(self, text: str) -> str:
        """`text` with our secret values and common credentials replaced by kind markers."""
        regex = self._regex
        if regex is not None:
            text = regex.sub(SECRET_MARKER, text)
        return mask_credentials(text)

    def mask_obj(self, obj: object) -> object:
        """A copy of a nested dict/list/tuple/str/bytes structure with every string masked."""
        if isinstance(obj, str):
            return self.mask(obj)
        if isinstance(obj, bytes):
            return self.mask(obj.decode("utf-8", "surrogateescape")).encode(
                "utf-8", "surrogateescape"
            )
        if isinstance(obj, dict):
            return {
                (self.mask(k) if isinstance(k, str) else k): (
                    REDACTED_MARKER if _sensitive_item(k, v) else self.mask_obj(v)
                )
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [self.mask_obj(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.mask_obj(v) for v in obj)
        return obj


_STANDARD_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class MaskingFilter(logging.Filter):
    """Masks a log record's message, arguments, extra fields, traceback and stack in place.

    Attach it to HANDLERS (`bot.observe.logs.configure_logging(filters=[...])`): a filter on a
    logger
    does not see records propagated from child loggers. `install_masking` covers every logger.
    The formatted traceback is left in `record.exc_text` (masked) and `exc_info` is cleared, so a
    formatter must print `exc_text` to keep tracebacks.
    """

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask `record`; always lets it through."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed call must not break its caller
            message = f"{record.msg} (arguments that do not fit the format: {record.args!r})"
        record.msg = self.masker.mask(message)
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.masker.mask(formatted)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker.mask(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD_RECORD_FIELDS:
                setattr(record, name, self.masker.mask_obj(value))
        return True


def install_masking(masker: Masker) -> Callable[[], None]:
    """Mask every record of every logger as it is made, extras included; returns the undo.

    Wraps `logging.Logger.makeRecord`, so it covers loggers that do not propagate and handlers
    added later (uvicorn's, pytest's). Call once, at the composition root.
    """
    masking = MaskingFilter(masker)
    original = logging.Logger.makeRecord

    def make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(self, *args, **kwargs)
        masking.filter(record)
        return record

    setattr(logging.Logger, "makeRecord", make_record)  # noqa: B010 - a method must be replaced

    def uninstall() -> None:
        setattr(logging.Logger, "makeRecord", original)  # noqa: B010

    return uninstall


_process_masker = Masker()
_process_lock = threading.Lock()


def process_masker() -> Masker:
    """The masker of this process (set at the composition root; patterns only until then)."""
    return _process_masker


def set_process_masker(masker: Masker) -> None:
    """Make `masker` the one everything that leaves the process is masked with."""
    global _process_masker
    with _process_lock:
        _process_masker = masker


def mask(text: str) -> str:
    """`text` masked by the process masker (the one masking function for outgoing text)."""
    return _process_masker.mask(text)


def register_secret(value: str) -> None:
    """Add a secret minted at run time (e.g. an installation token) to the process masker."""
    _process_masker.add(value)
