"""Regenerate tests/fixtures/github/routes.json from the npm package `@octokit/openapi`.

Usage:
    cd /tmp && npm pack @octokit/openapi && tar xzf octokit-openapi-*.tgz
    python scripts/extract_github_routes.py /tmp/package/generated/api.github.com.json \
        --version "$(node -p "require('/tmp/package/package.json').version")"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DEFAULT_OUT = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "github" / "routes.json"
)


def extract_routes(spec: dict[str, object]) -> list[str]:
    """Every operation of an OpenAPI description as "METHOD /path/{template}", sorted."""
    paths = spec.get("paths")
    if not isinstance(paths, dict):
        raise SystemExit("not an OpenAPI description: no `paths` object")
    routes = {
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method in item
        if method in HTTP_METHODS
    }
    return sorted(routes)


def main() -> None:
    """Read the OpenAPI JSON named on the command line and write routes.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path, help="generated/api.github.com.json of @octokit/openapi")
    parser.add_argument("--version", required=True, help="version of @octokit/openapi it came from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    document = {
        "source": f"@octokit/openapi@{args.version} generated/api.github.com.json",
        "openapi_info_version": spec.get("info", {}).get("version"),
        "routes": extract_routes(spec),
    }
    args.out.write_text(json.dumps(document, indent=0) + "\n")
    print(f"wrote {len(document['routes'])} routes to {args.out}")


if __name__ == "__main__":
    main()
