"""GitHub's Git Data API (blobs, trees, commits, refs) backed by a real bare git repository.

`FakeGitHub` serves these routes from the bare repository it shares with the run's `file://`
clone URL, so what Draftsmith creates through the API is what a later clone or fetch sees.
GitHub's semantics: a tree is built on `base_tree` (an entry with `sha: null` deletes
a path), a commit the App creates without its own committer is signed by GitHub (marked
`verification.verified`, reason `valid`), a ref update that is not a fast-forward needs `force`,
and branches matching `signed_branches` refuse commits that are not verified (as a branch
protection rule requiring signed commits does). Responses are GitHub's documented examples.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.github_objects import API, example

BOT = ("draftsmith[bot]", "42+draftsmith[bot]@users.noreply.github.com")
MODES = {"100644": "blob", "100755": "blob", "120000": "blob", "160000": "commit", "040000": "tree"}
Route = tuple[str, str, Callable[..., httpx.Response]]


def _error(status: int, message: str) -> httpx.Response:
    return httpx.Response(
        status, json={"message": message, "documentation_url": "https://docs.github.com/rest/git"}
    )


@dataclass
class GitDataAPI:
    """The Git Data API of `repo`, on the bare repository `git_dir`."""

    git_dir: Path
    repo: str = "octo/widgets"
    signed_branches: list[str] = field(default_factory=list)
    """fnmatch patterns of branches whose protection requires verified signatures."""
    verified: set[str] = field(default_factory=set)
    """Commits created through the API (GitHub signed them)."""
    refused: list[str] = field(default_factory=list)
    """Ref updates branch protection refused, with why."""

    def routes(self) -> list[Route]:
        """(method, path regex, handler(request, body, *groups)) for each route served."""
        base = f"/repos/{self.repo}/git"
        return [
            ("GET", rf"{base}/ref/heads/(.+)", self._get_ref),
            ("GET", rf"{base}/commits/([0-9a-f]{{40}})", self._get_commit),
            ("POST", rf"{base}/blobs", self._create_blob),
            ("POST", rf"{base}/trees", self._create_tree),
            ("POST", rf"{base}/commits", self._create_commit),
            ("POST", rf"{base}/refs", self._create_ref),
            ("PATCH", rf"{base}/refs/heads/(.+)", self._update_ref),
        ]

    # -- git ----------------------------------------------------------------------------------
    def git(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
        """Run git on the bare repository; stdout (raises on failure)."""
        proc = subprocess.run(
            ["git", *args],
            cwd=self.git_dir,
            input=stdin,
            capture_output=True,
            check=True,
            env={**os.environ, **(env or {})},
        )
        return proc.stdout.decode()

    def _exists(self, sha: str, kind: str) -> bool:
        proc = subprocess.run(
            ["git", "cat-file", "-t", sha], cwd=self.git_dir, capture_output=True, text=True
        )
        return proc.returncode == 0 and proc.stdout.strip() == kind

    def branch_sha(self, branch: str) -> str | None:
        """Where `refs/heads/<branch>` points, or None."""
        out = self.git("for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out.strip() or None

    # -- answers ------------------------------------------------------------------------------
    def _ref_body(self, branch: str, sha: str) -> dict[str, Any]:
        url = f"{API}/repos/{self.repo}/git"
        return example(
            "git-ref",
            ref=f"refs/heads/{branch}",
            url=f"{url}/refs/heads/{branch}",
            object={"type": "commit", "sha": sha, "url": f"{url}/commits/{sha}"},
        )

    def commit_body(self, sha: str) -> dict[str, Any]:
        """GitHub's description of commit `sha` (its verification as GitHub would say it)."""
        raw = self.git("cat-file", "commit", sha)
        header, _, message = raw.partition("\n\n")
        fields: dict[str, list[str]] = {}
        for line in header.splitlines():
            key, _, value = line.partition(" ")
            fields.setdefault(key, []).append(value)
        url = f"{API}/repos/{self.repo}/git"
        html = f"https://github.com/{self.repo}/commit"
        item = example(
            "git-commit",
            sha=sha,
            node_id=f"C_{sha[:20]}",
            url=f"{url}/commits/{sha}",
            html_url=f"{html}/{sha}",
            message=message.rstrip("\n"),
            author=_person(fields["author"][0]),
            committer=_person(fields["committer"][0]),
            tree={"sha": fields["tree"][0], "url": f"{url}/trees/{fields['tree'][0]}"},
            parents=[
                {"sha": p, "url": f"{url}/commits/{p}", "html_url": f"{html}/{p}"}
                for p in fields.get("parent", [])
            ],
        )
        if sha in self.verified:
            item["verification"] = {
                "verified": True,
                "reason": "valid",
                "signature": "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQ\n-----END PGP "
                "SIGNATURE-----\n",
                "payload": raw,
                "verified_at": item["committer"]["date"],
            }
        return item

    # -- handlers -----------------------------------------------------------------------------
    def _get_ref(self, _: httpx.Request, __: Any, branch: str) -> httpx.Response:
        sha = self.branch_sha(branch)
        if sha is None:
            return _error(404, "Not Found")
        return httpx.Response(200, json=self._ref_body(branch, sha))

    def _get_commit(self, _: httpx.Request, __: Any, sha: str) -> httpx.Response:
        if not self._exists(sha, "commit"):
            return _error(404, "Not Found")
        return httpx.Response(200, json=self.commit_body(sha))

    def _create_blob(self, _: httpx.Request, body: Any, *__: str) -> httpx.Response:
        encoding = body.get("encoding", "utf-8")
        if encoding not in ("utf-8", "base64") or not isinstance(body.get("content"), str):
            return _error(422, "Invalid request.\n\nFor 'properties/encoding', invalid value.")
        data = (
            base64.b64decode(body["content"], validate=True)
            if encoding == "base64"
            else body["content"].encode()
        )
        sha = self.git("hash-object", "-w", "--stdin", stdin=data).strip()
        url = f"{API}/repos/{self.repo}/git/blobs/{sha}"
        return httpx.Response(201, json=example("short-blob", sha=sha, url=url))

    def _create_tree(self, _: httpx.Request, body: Any, *__: str) -> httpx.Response:
        base_tree = body.get("base_tree")
        if base_tree is not None and not self._exists(base_tree, "tree"):
            return _error(422, "Invalid tree info")
        lines: list[str] = []
        for entry in body.get("tree", []):
            mode, kind, path = entry.get("mode"), entry.get("type"), entry.get("path")
            if MODES.get(mode) != kind or not path or path.startswith("/"):
                return _error(422, f"GitRPC::BadObjectState: bad tree entry {path!r}")
            if "content" in entry:
                sha = self.git("hash-object", "-w", "--stdin", stdin=entry["content"].encode())
                lines.append(f"{mode} {sha.strip()}\t{path}")
            elif entry.get("sha") is None:
                lines.append(f"0 {'0' * 40}\t{path}")
            elif kind != "commit" and not self._exists(entry["sha"], kind):
                return _error(422, f"GitRPC::BadObjectState: {entry['sha']} is not a {kind}")
            else:
                lines.append(f"{mode} {entry['sha']}\t{path}")
        index = self.git_dir / f"fake-index-{os.getpid()}"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            self.git("read-tree", *([base_tree] if base_tree else ["--empty"]), env=env)
            self.git("update-index", "--index-info", stdin="\n".join(lines).encode(), env=env)
            sha = self.git("write-tree", env=env).strip()
        finally:
            index.unlink(missing_ok=True)
        listing = self.git("ls-tree", "-l", sha).splitlines()
        url = f"{API}/repos/{self.repo}/git"
        entries = []
        for row in listing:
            meta, name = row.split("\t", 1)
            mode, kind, object_sha, size = meta.split()
            entry: dict[str, Any] = {"path": name, "mode": mode, "type": kind, "sha": object_sha}
            entry["url"] = f"{url}/{kind}s/{object_sha}"
            if size != "-":
                entry["size"] = int(size)
            entries.append(entry)
        item = example("git-tree", sha=sha, url=f"{url}/trees/{sha}", tree=entries, truncated=False)
        return httpx.Response(201, json=item)

    def _create_commit(self, _: httpx.Request, body: Any, *__: str) -> httpx.Response:
        tree, parents = body.get("tree"), body.get("parents", [])
        if not tree or not self._exists(tree, "tree"):
            return _error(422, "Tree SHA does not exist")
        if any(not self._exists(p, "commit") for p in parents):
            return _error(422, "Parent SHA does not exist or is not a commit object")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        author = body.get("author") or {"name": BOT[0], "email": BOT[1]}
        committer = body.get("committer") or {"name": BOT[0], "email": BOT[1]}
        env = {
            "GIT_AUTHOR_NAME": author["name"],
            "GIT_AUTHOR_EMAIL": author["email"],
            "GIT_AUTHOR_DATE": author.get("date", now),
            "GIT_COMMITTER_NAME": committer["name"],
            "GIT_COMMITTER_EMAIL": committer["email"],
            "GIT_COMMITTER_DATE": committer.get("date", now),
        }
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        sha = self.git(*args, stdin=str(body.get("message", "")).encode(), env=env).strip()
        if "committer" not in body and "signature" not in body:
            self.verified.add(sha)  # GitHub signs what the App commits as itself
        return httpx.Response(201, json=self.commit_body(sha))

    def _create_ref(self, _: httpx.Request, body: Any, *__: str) -> httpx.Response:
        ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return _error(422, "Reference name must start with 'refs/' and have two slashes")
        if not self._exists(sha, "commit"):
            return _error(422, "Object does not exist")
        branch = ref.removeprefix("refs/heads/")
        if self.branch_sha(branch) is not None:
            return _error(422, "Reference already exists")
        refused = self._protection(branch, sha)
        if refused is not None:
            return refused
        self.git("update-ref", ref, sha, "0" * 40)
        return httpx.Response(201, json=self._ref_body(branch, sha))

    def _update_ref(self, _: httpx.Request, body: Any, branch: str) -> httpx.Response:
        old, sha = self.branch_sha(branch), str(body.get("sha", ""))
        if old is None:
            return _error(422, "Reference does not exist")
        if not self._exists(sha, "commit"):
            return _error(422, "Object does not exist")
        forward = subprocess.run(
            ["git", "merge-base", "--is-ancestor", old, sha], cwd=self.git_dir, check=False
        )
        if forward.returncode != 0 and not body.get("force"):
            return _error(422, "Update is not a fast forward")
        refused = self._protection(branch, sha)
        if refused is not None:
            return refused
        self.git("update-ref", f"refs/heads/{branch}", sha, old)
        return httpx.Response(200, json=self._ref_body(branch, sha))

    def _protection(self, branch: str, sha: str) -> httpx.Response | None:
        if not any(fnmatch.fnmatch(branch, p) for p in self.signed_branches):
            return None
        new = self.git("rev-list", sha, "--not", "--branches").split()
        unsigned = [c for c in new if c not in self.verified]
        if not unsigned:
            return None
        why = f"refs/heads/{branch}: commits must have verified signatures ({unsigned[0][:12]})"
        self.refused.append(why)
        return _error(422, f"Protected branch update failed for {why}.")


def _person(line: str) -> dict[str, str]:
    """`Name <email> 1700000000 +0000` as GitHub's {name, email, date}."""
    name, _, rest = line.partition(" <")
    email, _, stamp = rest.partition("> ")
    seconds = int(stamp.split()[0])
    date = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"name": name, "email": email, "date": date}
