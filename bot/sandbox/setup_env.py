"""What the setup phase gets beyond the check phase: the egress filter's policy and the operator's
CA and index settings (variables named by DRAFTSMITH_SETUP_ENV, the files they name, the system
pip/npm configuration). A sandbox applies a `SetupNetwork` only to commands run with
`network=True` (the setup phase), never to the check phase.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.sandbox.base import check_env
from bot.sandbox.egress_policy import EgressPolicy

if TYPE_CHECKING:
    from bot.shared.config import Settings

DEFAULT_SETUP_ENV = (
    "PIP_CERT", "PIP_CLIENT_CERT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST",
    "PIP_FIND_LINKS", "PIP_CONFIG_FILE", "PIP_DEFAULT_TIMEOUT",
    "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_NATIVE_TLS",
    "NPM_CONFIG_REGISTRY", "NPM_CONFIG_CAFILE", "NPM_CONFIG_STRICT_SSL",
    "npm_config_registry", "npm_config_cafile", "npm_config_strict_ssl", "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "COREPACK_INTEGRITY_KEYS",
)  # fmt: skip
SYSTEM_CONFIG = (Path("/etc/pip.conf"), Path("/etc/xdg/pip"), Path("/etc/npmrc"))


@dataclass(frozen=True)
class SetupNetwork:
    """The setup phase's egress policy, extra variables and read-only files (host paths)."""

    egress: EgressPolicy = field(default_factory=EgressPolicy)
    env: Mapping[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str]) -> SetupNetwork:
        """The operator's setup network: DRAFTSMITH_SETUP_EGRESS and DRAFTSMITH_SETUP_ENV."""
        names = (
            DEFAULT_SETUP_ENV
            if settings.setup_env is None
            else tuple(n.strip() for n in settings.setup_env.split(",") if n.strip())
        )
        return cls.build(settings.setup_egress, names, environ)

    @classmethod
    def build(
        cls, setup_egress: str, names: tuple[str, ...], environ: Mapping[str, str]
    ) -> SetupNetwork:
        """From an allow-list string, the variable names to pass and the environment to read."""
        env = check_env({n: environ[n] for n in names if environ.get(n)})
        files = [p for p in SYSTEM_CONFIG if p.exists()]
        for value in env.values():
            files += named_paths(value)
        return cls(
            egress=EgressPolicy.from_environ(setup_egress, environ),
            env=env,
            files=tuple(dict.fromkeys(files)),
        )


def named_paths(value: str) -> list[Path]:
    """Existing absolute paths a variable's value names (plain or file:// URLs, space-separated)."""
    found: list[Path] = []
    for token in value.replace(",", " ").split():
        if token.startswith("file://"):
            token = urllib.parse.unquote(urllib.parse.urlsplit(token).path)
        if token.startswith("/") and os.path.exists(token):
            found.append(Path(token))
    return found
