"""Settings, built once at the composition root from `DRAFTSMITH_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.shared.errors import ConfigError

PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "secret", "password", "xxx", "todo", "your-secret", "test"}
)
ROLES = ("planner", "coder", "reviewer", "tester")
Role = Literal["planner", "coder", "reviewer", "tester"]


def _refuse_placeholder(value: SecretStr | None, name: str) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value().strip()
    if raw.lower() in PLACEHOLDER_SECRETS or (raw.startswith("<") and raw.endswith(">")):
        raise ValueError(f"{name} is a placeholder ({raw!r}); set a real, random value")
    return value


class Settings(BaseSettings):
    """Every setting Draftsmith reads; each is an environment variable `DRAFTSMITH_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="DRAFTSMITH_", extra="ignore")

    github_app_id: int | None = Field(default=None, description="The GitHub App's numeric id.")
    github_private_key: SecretStr | None = Field(
        default=None, description="The App's private key, PEM text."
    )
    github_private_key_path: Path | None = Field(
        default=None, description="Path of the App's private key PEM file."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="The App's webhook secret (X-Hub-Signature-256)."
    )
    github_token: SecretStr | None = Field(
        default=None,
        description="A token used instead of the App (`draftsmith action`): the workflow's "
        "GITHUB_TOKEN or an App installation token.",
    )
    github_api_url: str = Field(
        default="https://api.github.com", description="GitHub REST API base URL (GHES: .../api/v3)."
    )
    database_url: str = Field(
        default="sqlite:///./draftsmith.db", description="SQLAlchemy URL of the run store."
    )
    queue_url: str = Field(
        default="sqlite:///./draftsmith-queue.db",
        description="Queue: sqlite:///FILE (embedded) or redis://HOST:PORT/DB (scale out).",
    )
    sandbox: Literal["auto", "bwrap", "docker"] = Field(
        default="auto", description="Sandbox backend for repository code."
    )
    docker_image: str = Field(
        default="python:3.11-slim", description="Image (tag or digest) of the Docker sandbox."
    )
    setup_egress: str = Field(
        default="",
        description="Hosts (host, host:port, *.domain; comma-separated) the setup phase may reach "
        "besides the public Python and npm registries, even on private addresses.",
    )
    setup_env: str | None = Field(
        default=None,
        description="Variables (comma-separated names) passed from the bot's environment to the "
        "setup phase only; unset: pip's, uv's and npm's CA and index variables, SSL_CERT_FILE, "
        "REQUESTS_CA_BUNDLE and the like.",
    )
    trigger_label: str = Field(default="draftsmith", description="Issue label that starts a run.")
    app_slug: str = Field(
        default="draftsmith",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$",
        description="The App's slug as GitHub reports it (GET /app); `@<slug>` starts a run.",
    )
    model: str | None = Field(default=None, description="Default model for every role.")
    model_planner: str | None = None
    model_coder: str | None = None
    model_reviewer: str | None = None
    model_tester: str | None = None
    model_prices: str | None = Field(
        default=None,
        description="Model prices beside the built-in table: JSON text or a JSON file's path, "
        '{"model": {"input": USD per 1M prompt tokens, "output": USD per 1M output tokens}}.',
    )
    max_completion_tokens: int = Field(
        default=16_384,
        ge=256,
        description="Most completion tokens one model call may ask for (lower it for models "
        "with a smaller output limit); budgets may ask for fewer.",
    )
    candidates: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Coders working independently on each revision (a different seed each); "
        "the PR carries the candidate ranked best on the tester's evidence.",
    )
    work_dir: Path = Field(
        default=Path("./draftsmith-work"), description="Where runs clone repositories."
    )
    workers: int = Field(default=2, ge=1, description="Consumer threads in `draftsmith serve`.")
    catchup_interval_s: int = Field(
        default=600, ge=0, description="Seconds between redelivery sweeps; 0 disables them."
    )
    model_max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of one model request before the run waits."
    )
    model_wait_backoff_s: float = Field(
        default=30.0,
        gt=0,
        description="First wait of a run on a model outage without Retry-After; doubles per wait.",
    )
    model_wait_limit_s: int = Field(
        default=3600,
        ge=0,
        description="A run that waited longer on the model endpoint ends needs_human_review.",
    )
    max_concurrent_runs: int = Field(
        default=8, ge=0, description="Runs working at once in total (0: no cap); others queue."
    )
    max_concurrent_runs_per_installation: int = Field(
        default=4, ge=0, description="Runs working at once per installation (0: no cap)."
    )
    queue_recheck_s: float = Field(
        default=5.0, gt=0, description="How often a run held by a concurrency cap looks again."
    )
    lease_ttl_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds a run lock or a delivery being handled stays held without a "
        "heartbeat; a dead worker's work is taken over after this.",
    )
    stale_run_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds an unfinished, unlocked run or a dispatched delivery may go "
        "untouched before it is queued again (its queue message was lost with a worker).",
    )
    max_body_bytes: int = Field(default=25 * 1024 * 1024, description="Largest webhook body.")
    log_level: str = Field(default="INFO", description="Log level of the JSON logs.")
    dashboard_token: SecretStr | None = Field(
        default=None,
        description="When set, /runs and /metrics are served on the webhook listener behind it.",
    )
    dashboard_host: str = Field(
        default="127.0.0.1",
        description="Address of the dashboard's own listener (used when no token is set).",
    )
    dashboard_port: int = Field(
        default=8001, ge=0, le=65535, description="Port of the dashboard's own listener."
    )
    trace_url: str | None = Field(
        default=None,
        description="Address of a trace in your trace UI, with {trace_id}, for the run page.",
    )

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_not_placeholder(cls, v: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(v, "DRAFTSMITH_WEBHOOK_SECRET")

    @field_validator("dashboard_token")
    @classmethod
    def _dashboard_token_not_placeholder(cls, v: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(v, "DRAFTSMITH_DASHBOARD_TOKEN")

    @field_validator("github_private_key")
    @classmethod
    def _key_not_placeholder(cls, v: SecretStr | None) -> SecretStr | None:
        return _refuse_placeholder(v, "DRAFTSMITH_GITHUB_PRIVATE_KEY")

    def model_for(self, role: Role) -> str | None:
        """The model a role uses: its own override, else the default model."""
        override: str | None = getattr(self, f"model_{role}")
        return override or self.model

    def private_key(self) -> str:
        """The App's private key text, from the variable or the file; raises ConfigError."""
        if self.github_private_key is not None:
            return self.github_private_key.get_secret_value()
        if self.github_private_key_path is not None:
            try:
                return self.github_private_key_path.read_text()
            except OSError as exc:
                raise ConfigError(
                    "cannot read DRAFTSMITH_GITHUB_PRIVATE_KEY_PATH="
                    f"{self.github_private_key_path}: {exc.strerror}",
                    "point it at the .pem file downloaded from the App's settings page",
                ) from exc
        raise ConfigError(
            "no GitHub App private key configured",
            "set DRAFTSMITH_GITHUB_PRIVATE_KEY (PEM text) or DRAFTSMITH_GITHUB_PRIVATE_KEY_PATH",
        )

    def secret_values(self) -> list[str]:
        """The values of the bot's own secrets, for masking."""
        values: list[str] = []
        for secret in (
            self.webhook_secret,
            self.github_private_key,
            self.dashboard_token,
            self.github_token,
        ):
            if secret is not None:
                values.append(secret.get_secret_value())
        return values


def load_settings() -> Settings:
    """Settings from the environment; an invalid value is a ConfigError naming the variable."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"DRAFTSMITH_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}", "fix the variables named") from exc
