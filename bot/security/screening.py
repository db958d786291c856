"""Screening of untrusted text for known prompt-injection patterns.

This is a SIGNAL for the policy gate, not a defence. A flagged run continues only under the gate
(the pull request needs an owner's approval and says why) and the flags go into the evidence.
Pattern matching is easy to evade (paraphrase, other languages, homoglyphs, encodings), so nothing
here decides what runs or what is written: the structural rules do that (untrusted text is
wrapped as data, agents hold only the tools their role needs, edits are validated by the
workspace, the model never sees a secret, risky paths are always gated).

Text is normalised before matching (NFKC, invisible characters removed, Unicode tag characters
decoded to the ASCII they mirror), so hidden instructions are screened too.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.security.documents import split_document
from bot.security.hidden import preview

EXCERPT_CHARS = 160
MAX_FLAGS_PER_PATTERN = 5

_SECRET_WORDS = (
    r"(?:\b(?:env(?:ironment)?[ _-]?(?:variables?|vars?)|env|secrets?|(?:api|private|ssh|"
    r"access|secret)[ _-]?keys?|(?:access|api|auth|github|installation|bearer|secret|oauth|"
    r"session)[ _-]?tokens?|(?:your|its) tokens?|credentials?|passwords?|GITHUB_TOKEN|"
    r"OPENAI_API_KEY|id_rsa)\b|\.env\b|\.ssh\b)"
)
_CHECK_WORDS = (
    r"(?:all (?:the )?tests|the tests|(?:the )?test suite|tests? entirely|(?:the |code )?review"
    r"(?:er)?\b|polic(?:y|ies)|(?:policy )?gate\b|approvals?\b|sandbox|(?:security|safety|ci|"
    r"status|required|all|the) checks?\b|\bci\b|pre-commit|(?:git )?hooks?\b|"
    r"(?:commit|signature|gpg|signing) verification|"
    r"(?:the )?linters?\b|guardrails?|safeguards?|restrictions)"
)
_URLISH = r"(?:https?://|ftp://|\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[a-z0-9-]+(?:\.[a-z0-9-]+)+[:/])"
_EXFIL_HOSTS = (
    r"(?:webhook\.site|requestbin|pipedream\.net|ngrok(?:-free)?\.(?:io|app)|burpcollaborator|"
    r"interact\.sh|oast\.(?:fun|pro|live|site|online|me)|hookbin|beeceptor|requestcatcher)"
)

PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(regex, re.IGNORECASE | re.MULTILINE)
    for name, regex in {
        "ignore-instructions": (
            r"\b(?:ignore|disregard|forget|override|bypass|skip)\b[^.\n]{0,30}?\b(?:previous|"
            r"prior|above|earlier|preceding|all|any|your|system|safety|security|original|these)"
            r"\b(?:\s+\w+){0,2}?\s+(?:instructions?|rules?|guidelines?|directions?|"
            r"polic(?:y|ies)|constraints?|directives?|orders?)\b"
            r"|\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,30}?\b(?:previous|prior|"
            r"above|earlier|preceding|system|original)\s+prompts?\b"
        ),
        "reveal-secrets": (
            r"\b(?:print|reveal|show|output|display|dump|echo|leak|expose|tell me|give me|"
            r"write out|cat|paste)\b[^.\n]{0,20}?"
            + _SECRET_WORDS
            + r"|\bprintenv\b|(?:^[ \t]*(?:\$[ \t]*)?|[;&|(][ \t]*)env[ \t]*(?:[|>)]|$)"
            r"|/proc/(?:self|\d+|\*)/environ"
            # os.environ as a whole; one named variable (`["X"]`, `.get(`, `"X" in`) is not
            r"|(?<![\"'] in )(?<![\"'] not in )\bos\.environ\b(?!\s*(?:\[|\.get\())"
            r"|(?-i:\$\{?[A-Z_]*(?:TOKEN|SECRET|API_?KEY|PASSWORD|"
            r"PRIVATE_KEY)[A-Z_]*\}?)"
        ),
        "disable-checks": (
            r"\b(?:disable|skip|bypass|turn off|switch off|comment out|circumvent|suppress|"
            r"silence|deactivate|get around)\b[^.\n]{0,30}?"
            + _CHECK_WORDS
            + r"|--no-verify\b|\b(?:make|mark|force)\b[^.\n]{0,30}?\b(?:tests?|checks?)\b"
            r"[^.\n]{0,20}?\b(?:always )?(?:pass|succeed|green)"
        ),
        "network-command": (
            r"\b(?:curl|wget|nc|ncat|netcat|socat|telnet|scp|rsync|ftp|sftp)[ \t][^\n]{0,80}?"
            + _URLISH
            + r"|\bpip3?\s+install\b[^\n]{0,80}?(?:https?://|git\+|--(?:extra-)?index-url\b|"
            r"\s-i\s)|\bnpm\s+(?:install|i)\b[^\n]{0,40}?https?://|/dev/(?:tcp|udp)/|"
            r"\bInvoke-(?:WebRequest|RestMethod)\b"
        ),
        "modify-workflows": (
            r"\b(?:add|create|modify|edit|change|update|write|append|insert|commit|push|replace|"
            r"overwrite|put)\b[^\n]{0,60}?(?:\.github/workflows|github actions? workflow|workflow "
            r"files?)|\.github/workflows/[^\s]{0,100}?\b[^\n]{0,40}?\b(?:add|create|modify|edit|change|"
            r"update|write|append|insert|replace|overwrite)\b"
        ),
        "exfiltrate": (
            r"\b(?:send|post|upload|exfiltrate|transmit|forward|submit|leak|copy|pipe|beacon)\b"
            r"[^\n]{0,60}?" + _SECRET_WORDS + r"[^\n]{0,60}?\b(?:to|at|into|via)\b\s*"
            r"(?:https?://|ftp://|[\w.-]+\.[a-z]{2,}\b)|https?://[^\s]{0,200}?\$\{?[A-Za-z_]|"
            r"https?://[^\s/]{0,100}?" + _EXFIL_HOSTS + r"|\bexfiltrat\w*"
        ),
        "role-override": (
            r"\byou are now\s+(?:an?|the|my|in|no longer|free|unrestricted|jailbroken|DAN)\b|"
            r"\bfrom now on,? you\b|\bact as\b[^.\n]{0,40}?\b(?:without|no)\s+"
            r"(?:restrictions|rules|limits)|\bnew instructions\s*:|\bdeveloper mode\b|"
            r"\bjailbr(?:ea|o)k|\bdo anything now\b|(?-i:\bDAN mode\b)|"
            r"\bpretend (?:to be|you are)\b"
        ),
        "system-prompt": (
            r"\bsystem[ _-]?prompt\b|<\|?\s*(?:system|im_start|im_end|endoftext)\s*\|?>|"
            r"^[ \t]*(?:#+[ \t]*)?(?:system|assistant|developer)[ \t]+"
            r"(?:message|prompt|instructions?)[ \t]*:|"
            r"(?-i:^[ \t]*(?:(?:#|//|--|;|\*)[ \t]*)?(?:SYSTEM|ASSISTANT|DEVELOPER)[ \t]*:|"
            r"\[/?(?:SYSTEM|INST)\])|"
            r"<<\s*/?SYS\s*>>"
        ),
        "fake-delimiter": r"[<＜﹤‹〈⟨]\s*+/?\s*+untrusted\b",
    }.items()
}


@dataclass(frozen=True)
class Flag:
    """One match of a known injection pattern: where it was, which pattern, and the excerpt."""

    source: str
    pattern: str
    excerpt: str


_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069"
    "\u3164\ufeff\uffa0\ufe00-\ufe0f\U000e0000-\U000e001f\U000e007f-\U000e01ef]"
)
_TAG_ASCII_RE = re.compile("[\U000e0020-\U000e007e]+")


def normalise(text: str) -> str:
    """The text screened: NFKC, invisible characters dropped, tag characters decoded."""
    text = _TAG_ASCII_RE.sub(lambda m: "".join(chr(ord(c) - 0xE0000) for c in m.group()), text)
    text = _INVISIBLE_RE.sub("", text)
    return unicodedata.normalize("NFKC", text)


# What a program's source or output can say for ordinary reasons (`os.environ.copy()`, `curl`
# in a script, a URL template, a workflow writer) is a signal in prose (issues, comments, docs),
# not in code: there only text addressed to a model is screened.
ADDRESSED_TO_A_MODEL = ("ignore-instructions", "role-override", "system-prompt", "fake-delimiter")
PROSE_SUFFIXES = ("", ".md", ".markdown", ".rst", ".txt", ".adoc", ".org", ".rdoc")


CODE_NAMES = (
    "dockerfile", "containerfile", "makefile", "gnumakefile", "justfile", "jenkinsfile",
    "vagrantfile", "procfile", "rakefile", "gemfile", "brewfile", "pipfile",
)  # fmt: skip


def patterns_for_file(path: str) -> tuple[str, ...]:
    """The patterns a repository file is screened for: all in prose, model-addressed in code."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in CODE_NAMES or name.startswith(("dockerfile.", "containerfile.")):
        return ADDRESSED_TO_A_MODEL
    suffix = name[name.rfind(".") :] if "." in name.lstrip(".") else ""
    return tuple(PATTERNS) if suffix in PROSE_SUFFIXES else ADDRESSED_TO_A_MODEL


# A warning against the act ("do not reveal the secret key") and making a new secret ("output a
# random secret key") are what documentation says; neither asks for an existing secret.
_NEGATED = re.compile(r"\b(?:not|never|n't|no one should|nobody should)\s+(?:\w+\s+){0,2}$", re.I)
_NEW_SECRET = re.compile(r"\b(?:a|an|new|random|fresh)\s+(?:\w+\s+)?(?:secret|key|token)", re.I)
_NEGATABLE = ("reveal-secrets", "disable-checks", "exfiltrate", "modify-workflows")


def _ordinary(name: str, text: str, match: re.Match[str]) -> bool:
    """Whether a match is a warning against the act, or the making of a new secret."""
    if name not in _NEGATABLE:
        return False
    line_start = text.rfind("\n", 0, match.start()) + 1
    if _NEGATED.search(text[line_start : match.start()]):
        return True
    return name == "reveal-secrets" and bool(_NEW_SECRET.search(match.group()))


def screen_file(path: str, text: str, *, source: str) -> list[Flag]:
    """Flag a repository file: its prose for every pattern, its code (a code file, or the code
    blocks and spans of a documentation page) for the patterns addressed to a model."""
    patterns = patterns_for_file(path)
    if patterns == ADDRESSED_TO_A_MODEL:
        return screen(text, source=source, patterns=patterns)
    parts = split_document(path, text)
    flags = screen(parts.prose, source=source, patterns=patterns)
    if parts.code:
        flags += screen(parts.code, source=f"{source} (code)", patterns=ADDRESSED_TO_A_MODEL)
    return flags


def screen(text: str, *, source: str, patterns: tuple[str, ...] = tuple(PATTERNS)) -> list[Flag]:
    """Flag known injection patterns in `text` (from `source`, e.g. "issue body"): a signal only.

    `patterns`: the names screened for (all by default; `patterns_for_file` for a file)."""
    normal = normalise(text)
    flags: list[Flag] = []
    for name, pattern in PATTERNS.items():
        if name not in patterns:
            continue
        seen: set[str] = set()
        for match in pattern.finditer(normal):
            if _ordinary(name, normal, match):
                continue
            excerpt = _excerpt(normal, match)
            if excerpt in seen:
                continue
            seen.add(excerpt)
            flags.append(Flag(source=source, pattern=name, excerpt=excerpt))
            if len(seen) >= MAX_FLAGS_PER_PATTERN:
                break
    return flags


def _excerpt(text: str, match: re.Match[str]) -> str:
    """The matched text with a little context on each side, escaped and bounded."""
    start = max(0, match.start() - 30)
    end = min(len(text), match.end() + 30)
    before = "…" if start > 0 else ""
    after = "…" if end < len(text) else ""
    return preview(f"{before}{text[start:end].strip()}{after}", EXCERPT_CHARS)
