"""The label that starts a run on a repository: its `.github/draftsmith.yml`, else the global."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.github.markdown import code, inert_line
from bot.policy.decide import REPO_CONFIG_PATH, parse_repo_config
from bot.shared.errors import PolicyError

if TYPE_CHECKING:
    from bot.github.client import InstallationClient
    from bot.steering.commands import RepoRef

CONFIG_ERROR_MARKER = "<!-- draftsmith:config-error -->"


def repo_trigger_label(gh: InstallationClient, repo: RepoRef, issue: int, default: str) -> str:
    """The repository's trigger label, else `default`; a config that does not parse is reported
    on the issue (one comment, updated) and the built-in settings apply."""
    text = gh.read_file(repo.full_name, REPO_CONFIG_PATH, ref=repo.default_branch)
    if text is None:
        return default
    try:
        config = parse_repo_config(text)
    except PolicyError as exc:
        gh.upsert_comment(
            repo.full_name,
            issue,
            CONFIG_ERROR_MARKER,
            f"Draftsmith could not use `{REPO_CONFIG_PATH}` on {code(repo.default_branch)}: "
            f"{inert_line(exc.message)}. The built-in settings and policy apply until it is "
            "fixed.",
        )
        return default
    return config.trigger_label or default
