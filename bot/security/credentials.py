"""A deterministic check for hard-coded credentials in the lines a unified diff adds."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.repo.changes import added
from bot.security.masking import CREDENTIAL_PATTERNS, SECRET_MARKER, marker, mask_credentials
from bot.shared.contracts import ReviewIssue, Severity

EXCERPT_CHARS = 160
HARDCODED = "hardcoded-secret"

_SECRET_NAME_RE = re.compile(
    r"(?:^|[_.-])(?:password|passwd|pwd|passphrase|secret|token|credentials?|apikey|"
    r"(?:api|access|secret|private|client|signing|encryption|master)_?key)$"
)
_QUOTED_ASSIGN_RE = re.compile(
    r"""(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*+)["']?\s*+(?::\s*+[A-Za-z_][\w\[\]|., ]{0,40}?\s*)?"""
    r"""(?::=|=>|==|=|:)\s*+[bru]{0,2}(?P<q>["'`])(?P<value>[^"'`\n]{8,400})(?P=q)"""
)
_BARE_ASSIGN_RE = re.compile(
    r"""^\s*(?:export\s+|-\s+)?(?P<name>[A-Za-z_][\w.-]*)\s*[=:]\s*"""
    r"""(?P<value>[^\s"'`#$(){}\[\]<>,;]{8,400})\s*$"""
)
_PLACEHOLDER_PARTS = (
    "xxx", "your", "example", "placeholder", "dummy", "fake", "sample", "changeme", "change-me",
    "change_me", "redacted", "<", ">", "${", "{{", "%(", "...", "***", "todo", "replace",
    "insert", "environ", "getenv", "test", "secret_here", "here", "none", "null",
)  # fmt: skip
_ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
# A diff read back from the store is already masked: a marker on an added line is a credential.
_MASKED_RE = re.compile(
    "|".join(re.escape(m) for m in [SECRET_MARKER, *(marker(p.kind) for p in CREDENTIAL_PATTERNS)])
)


@dataclass(frozen=True)
class CredentialFinding:
    """A credential hard-coded in an added line: where, what kind, and the line masked."""

    file: str
    line: int
    kind: str
    excerpt: str


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (
        any(part in lowered for part in _PLACEHOLDER_PARTS)
        or bool(_ENV_NAME_RE.match(value))
        or len(set(value)) <= 2
        or value.startswith(("/", "./", "~", "http://", "https://"))
    )


def _secret_like(value: str) -> bool:
    """Long enough, no spaces, not a placeholder, and not a plain word or identifier."""
    if len(value) < 8 or any(c.isspace() for c in value) or _is_placeholder(value):
        return False
    has_digit_or_symbol = any(c.isdigit() or c in "!@#$%^&*+/=?~" for c in value)
    mixed_case = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return has_digit_or_symbol or (len(value) >= 16 and mixed_case)


def _assignment(line: str) -> re.Match[str] | None:
    """The assignment of a secret-like literal to a secret-named variable or key, if any."""
    for regex in (_QUOTED_ASSIGN_RE, _BARE_ASSIGN_RE):
        for match in regex.finditer(line):
            if _SECRET_NAME_RE.search(_snake(match.group("name"))) and _secret_like(
                match.group("value")
            ):
                return match
    return None


def _line_findings(path: str, number: int, line: str) -> list[CredentialFinding]:
    found: list[CredentialFinding] = []
    for pattern in CREDENTIAL_PATTERNS:
        if next(iter(pattern.spans(line)), None) is not None:
            found.append(CredentialFinding(path, number, pattern.kind, _excerpt(line)))
    if not found and (hidden := _MASKED_RE.search(line)) is not None:
        found.append(CredentialFinding(path, number, hidden.group().strip("*"), _excerpt(line)))
    if not found and (match := _assignment(line)) is not None:
        start, end = match.span("value")
        masked = line[:start] + marker(HARDCODED) + line[end:]
        found.append(CredentialFinding(path, number, HARDCODED, _excerpt(masked)))
    return found


def _excerpt(line: str) -> str:
    text = mask_credentials(line.strip())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def find_credentials(diff: str) -> list[CredentialFinding]:
    """Hard-coded credentials in the ADDED lines of a unified diff, with new-file line numbers."""
    findings: list[CredentialFinding] = []
    for line in added(diff):
        findings.extend(_line_findings(line.path, line.number, line.text))
    return findings


def to_review_issue(finding: CredentialFinding) -> ReviewIssue:
    """The high-severity security review issue for a hard-coded credential."""
    return ReviewIssue(
        severity=Severity.high,
        category="security",
        file=finding.file,
        line=finding.line,
        problem=(
            f"Hard-coded credential ({finding.kind}) added to {finding.file}:{finding.line}: "
            f"{finding.excerpt}"
        ),
        recommended_fix=(
            "Remove the literal and read the value at run time from the environment or a secret "
            'store (e.g. os.environ["API_KEY"]); if it was a real credential, revoke and rotate '
            "it, since it is now in the branch's history."
        ),
    )
