"""Regenerate tests/fixtures/github/examples.json from the npm package `@octokit/openapi`.

The GitHub test fakes answer with these objects (GitHub's own documented examples), changed only
in the fields a test is about, so githubkit's typed models validate them as they do GitHub's.

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

SCHEMA_FILLS: dict[str, dict[str, object]] = {
    # Fields the schema marks required that GitHub's example predates (the example omits them);
    # filled with the value GitHub sends for an ordinary object. Keys are dotted paths; "*" is
    # every item of a list.
    "pull-request": {
        "labels.*.archived_at": None,
        "labels.*.archived_by": None,
        "requested_teams.*.type": "organization",
    },
    "full-repository": {"has_discussions": False},
    "collaborator-permission": {"user.role_name": "admin"},
    "label": {"archived_at": None, "archived_by": None},
}


def _fill(value: object, path: list[str], filler: object) -> None:
    head, rest = path[0], path[1:]
    targets = value if head == "*" and isinstance(value, list) else [value]
    for target in targets:
        if not isinstance(target, dict):
            continue
        if head == "*":
            _fill(target, rest, filler)
        elif not rest:
            target.setdefault(head, filler)
        elif head in target:
            _fill(target[head], rest, filler)


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
        chosen[name] = value[0] if isinstance(value, list) else value
        for dotted, filler in SCHEMA_FILLS.get(name, {}).items():
            _fill(chosen[name], dotted.split("."), filler)
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
