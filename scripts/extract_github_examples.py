"""Regenerate tests/fixtures/github/examples.json from the npm package `@octokit/openapi`.

The GitHub test fakes answer with these objects (GitHub's own documented examples, as they are:
nothing filled in from the current schema), changed only in the fields a test is about. Where an
example predates a field the schema now requires, the fakes answer without it, as an older GitHub
does; Draftsmith reads only the fields it uses (`bot/github/objects.py`).

Usage:
    cd /tmp && npm pack @octokit/openapi && tar xzf octokit-openapi-*.tgz
    python scripts/extract_github_examples.py /tmp/package/generated/api.github.com.json \
        --version "$(node -p "require('/tmp/package/package.json').version")"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_OUT = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "github" / "examples.json"
)
EXAMPLES = {
    # our name: the key under components.examples (a list example contributes its first item)
    "pull-request": "pull-request",
    "issue-comment": "issue-comment",
    "check-run": "check-run",
    "check-annotation": "check-annotation-items",
    "content-file": "content-file-response-if-content-is-a-file",
    "full-repository": "full-repository",
    "collaborator-permission": (
        "repository-collaborator-permission-response-if-user-has-admin-permissions"
    ),
    "team-membership": "team-membership-response-if-user-is-a-team-maintainer",
    "hook-delivery-item": "hook-delivery-items",
    "installation-token": "installation-token",
    "label": "label",
    "reaction": "reaction",
    "integration": "integration",
    "simple-user": "simple-user",
    "pull-request-review": "pull-request-review",
    "review-comment": "review-comment-items",
    "git-commit": "git-commit",
    "git-tree": "git-tree",
    "git-ref": "git-ref",
    "short-blob": "short-blob",
}


def extract_examples(spec: dict[str, object]) -> dict[str, object]:
    """The chosen examples of an OpenAPI description, each a single object."""
    components = spec.get("components")
    examples = components.get("examples") if isinstance(components, dict) else None
    if not isinstance(examples, dict):
        raise SystemExit("not an OpenAPI description: no `components.examples`")
    chosen: dict[str, object] = {}
    for name, key in EXAMPLES.items():
        if key not in examples:
            raise SystemExit(f"example {key!r} is missing from this description")
        value = examples[key]["value"]
        chosen[name] = value[0] if isinstance(value, list) else value  # as documented
    return chosen


def main() -> None:
    """Read the OpenAPI JSON named on the command line and write examples.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="generated/api.github.com.json of @octokit/openapi")
    parser.add_argument("--version", required=True, help="version of @octokit/openapi it came from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    document = {
        "source": f"@octokit/openapi@{args.version} generated/api.github.com.json",
        "examples": extract_examples(spec),
    }
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(document['examples'])} examples to {args.out}")


if __name__ == "__main__":
    main()
