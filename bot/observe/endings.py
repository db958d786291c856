"""Why a run ended, in words for people (the dashboard, the CLI).

A run that did not succeed carries a short technical reason (`status_reason`); a crash also
stores its traceback as the `traceback` artifact. People get a sentence; the traceback stays
available behind a toggle, never as the headline.
"""

from __future__ import annotations

import re

from bot.run.states import Status

CRASH_PREFIX = "internal error in "
_CRASH = re.compile(r"^internal error in (?P<phase>[\w-]+): (?P<kind>[\w.]+)")
_PHASE_WORDS = {
    "planning": "planning the change",
    "plan_approval": "waiting for plan approval",
    "coding": "writing the code",
    "setup": "preparing the project's environment",
    "reviewing": "reviewing the change",
    "testing": "testing the change",
    "deploying": "opening the pull request",
}


def crash_reason(phase: str, exc: BaseException) -> str:
    """The stored reason of a phase that crashed (a bug in Draftsmith, not in the repository)."""
    return f"{CRASH_PREFIX}{phase}: {exc.__class__.__name__}"


def doing(phase: str) -> str:
    """What the run was doing in `phase`, in words."""
    return _PHASE_WORDS.get(phase, f"the {phase} phase")


def _sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def why_it_ended(status: str, phase: str, reason: str | None) -> str | None:
    """A sentence saying why a run that did not succeed ended; None for other runs."""
    detail = (reason or "").strip()
    crash = _CRASH.match(detail)
    if crash is not None:
        return (
            f"Draftsmith hit an internal error ({crash['kind']}) while "
            f"{doing(crash['phase'])}; this is a bug in Draftsmith, not in your repository. "
            "Retry with `/draftsmith retry`; the technical details are below."
        )
    first_line = detail.splitlines()[0] if detail else ""
    if status == Status.failed:
        because = f": {first_line}" if first_line else ""
        return _sentence(f"The run failed while {doing(phase)}{because}")
    if status == Status.needs_human_review:
        because = f": {first_line}" if first_line else ""
        return _sentence(f"The run stopped while {doing(phase)} and needs a person{because}")
    if status == Status.blocked_by_policy:
        because = f": {first_line}" if first_line else ""
        return _sentence(f"The repository's policy blocked the change{because}")
    if status == Status.stopped:
        return _sentence(f"The run was {first_line or 'stopped'}")
    return None
