"""Hostile text and secret hygiene: hidden-text stripping, injection screening, untrusted-data
wrapping for prompts, secret masking, and the hard-coded credential check.

Everything here is pure and fast (no I/O). Screening is a signal for the policy gate, not a
defence; the structural rules are the defence (see docs/security-model.md).
"""

from bot.security.credentials import CredentialFinding, find_credentials, to_review_issue
from bot.security.hidden import Removal, Stripped, strip_hidden
from bot.security.masking import (
    CREDENTIAL_PATTERNS,
    Masker,
    MaskingFilter,
    install_masking,
    mask_credentials,
    process_masker,
    register_secret,
    set_process_masker,
)
from bot.security.screening import PATTERNS, Flag, screen
from bot.security.untrusted import UNTRUSTED_RULE, as_data, neutralise_delimiters

__all__ = [
    "CREDENTIAL_PATTERNS",
    "PATTERNS",
    "UNTRUSTED_RULE",
    "CredentialFinding",
    "Flag",
    "Masker",
    "MaskingFilter",
    "Removal",
    "Stripped",
    "as_data",
    "find_credentials",
    "install_masking",
    "mask_credentials",
    "neutralise_delimiters",
    "process_masker",
    "register_secret",
    "screen",
    "set_process_masker",
    "strip_hidden",
    "to_review_issue",
]
