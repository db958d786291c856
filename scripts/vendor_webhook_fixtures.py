"""Regenerate tests/fixtures/webhooks/ from an unpacked `@octokit/webhooks-examples` package.

Usage:
    cd /tmp && npm pack @octokit/webhooks-examples && tar -xzf octokit-webhooks-examples-*.tgz
    python scripts/vendor_webhook_fixtures.py /tmp/package

For each (event, action) we handle, the FIRST example of that event whose `action` matches is
written unchanged to `<event>.<action>.json` (`ping.json` for ping, which has no action).
The README beside the fixtures is rewritten with the package's exact version and licence.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# (event, action); action None means the event has no action (ping).
WANTED: tuple[tuple[str, str | None], ...] = (
    ("ping", None),
    ("issues", "labeled"),
    ("issues", "opened"),
    ("issue_comment", "created"),
    ("pull_request_review", "submitted"),
    ("pull_request_review_comment", "created"),
    ("check_suite", "completed"),
    ("installation", "created"),
    ("installation", "deleted"),
    ("installation_repositories", "added"),
    ("installation_repositories", "removed"),
    ("pull_request", "opened"),
)

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "webhooks"

README = """\
# Webhook fixtures

Real example payloads published by GitHub's Octokit team, not hand-written.

- Package: `{name}` version **{version}** (npm), licence **{license}**,
  repository `{repository}`.
- Source file inside the package: `api.github.com/index.json` (github.com, not GHES).
- Rule: for each event/action we handle, the **first** example of that event whose `action`
  matches, unchanged. File name `<event>.<action>.json`; `ping.json` for ping.
- Regenerate:

  ```
  cd /tmp && npm pack {name}@{version} && tar -xzf octokit-webhooks-examples-{version}.tgz
  python scripts/vendor_webhook_fixtures.py /tmp/package
  ```

Note: most examples of repository events (issues, issue_comment, pull_request*, check_suite)
were captured from repository webhooks and carry no `installation` object, which a GitHub App
delivery always has. Tests add the ids they need with `tests/helpers/payloads.py`, e.g.
`load_payload("issues.labeled", installation={{"id": 1}}, label={{"name": "draftsmith"}})`.

| file | example index in the package's `{{name}}.examples` |
| --- | --- |
{rows}
"""


def fixture_name(event: str, action: str | None) -> str:
    """The fixture file name for an event and action."""
    return f"{event}.json" if action is None else f"{event}.{action}.json"


def first_example(
    definitions: list[dict[str, Any]], event: str, action: str | None
) -> tuple[int, dict[str, Any]]:
    """The index and payload of the first example of `event` whose action is `action`."""
    for definition in definitions:
        if definition["name"] != event:
            continue
        for index, example in enumerate(definition["examples"]):
            if example.get("action") == action:
                return index, example
        raise LookupError(f"the package has no {event}.{action} example")
    raise LookupError(f"the package has no {event} event")


def vendor(package_dir: Path, out_dir: Path) -> list[Path]:
    """Write one fixture per wanted payload and the README; return the files written."""
    meta = json.loads((package_dir / "package.json").read_text())
    definitions = json.loads((package_dir / "api.github.com" / "index.json").read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    rows: list[str] = []
    for event, action in WANTED:
        index, example = first_example(definitions, event, action)
        path = out_dir / fixture_name(event, action)
        path.write_text(json.dumps(example, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
        rows.append(f"| `{path.name}` | `{event}` example {index} |")
    readme = out_dir / "README.md"
    readme.write_text(
        README.format(
            name=meta["name"],
            version=meta["version"],
            license=meta["license"],
            repository=meta.get("repository", ""),
            rows="\n".join(rows),
        )
    )
    written.append(readme)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", type=Path, help="the unpacked npm package (…/package)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixtures directory")
    args = parser.parse_args(argv)
    try:
        written = vendor(args.package_dir, args.out)
    except (OSError, LookupError, KeyError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
