"""The hostile suite: each attack runs for real in bubblewrap and in Docker and is contained."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import textwrap
import threading
from pathlib import Path

import pytest

from bot.sandbox.base import ExecResult, LimitHit, Limits, Sandbox
from bot.sandbox.docker import DockerSandbox
from tests.helpers.sandboxes import BACKENDS, leftovers, make_sandbox

UID_BASE = 2_100_000  # a range of our own, so leftover-process checks see only this suite's runs
FAST = Limits(wall_time_s=20, cpu_time_s=10, memory_bytes=256 * 1024**2, processes=64)


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    return make_sandbox(request.param, uid_base=UID_BASE)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README.md").write_text("hello\n")
    return repo


async def _py(sandbox: Sandbox, repo: Path, code: str, limits: Limits = FAST) -> ExecResult:
    result = await sandbox.run(
        ["python3", "-c", textwrap.dedent(code)], workdir=repo, limits=limits
    )
    assert leftovers(sandbox, repo, UID_BASE) == [], "a sandboxed process outlived its run"
    return result


async def test_fork_bomb_is_stopped_by_the_process_limit(sandbox: Sandbox, repo: Path) -> None:
    result = await _py(
        sandbox,
        repo,
        """
        import os, time
        while True:
            if os.fork() == 0:
                time.sleep(60)
        """,
    )
    assert result.limit_hit is LimitHit.processes
    assert "Resource temporarily unavailable" in result.stderr
    assert result.duration_s < 15


async def test_shell_fork_bomb_is_contained_by_the_wall_clock(sandbox: Sandbox, repo: Path) -> None:
    limits = Limits(wall_time_s=2, processes=64)
    bomb = ":(){ :|:& };:; sleep 600"
    result = await sandbox.run(["bash", "-c", bomb], workdir=repo, limits=limits)
    assert leftovers(sandbox, repo, UID_BASE) == []
    assert result.limit_hit is LimitHit.wall_time
    assert "fork: retry: Resource temporarily unavailable" in result.stderr
    assert result.duration_s < 10
    # the host can still fork: the bomb ate only the sandbox's allowance
    assert subprocess.run(["true"]).returncode == 0


async def test_memory_hog_is_stopped_by_the_memory_limit(sandbox: Sandbox, repo: Path) -> None:
    result = await _py(sandbox, repo, "chunks = []\nwhile True: chunks.append(bytearray(2**24))")
    assert result.limit_hit is LimitHit.memory
    assert result.exit_code != 0


async def test_infinite_loop_is_stopped_by_the_cpu_limit(sandbox: Sandbox, repo: Path) -> None:
    limits = Limits(wall_time_s=20, cpu_time_s=1)
    result = await _py(sandbox, repo, "while True: pass", limits)
    assert result.limit_hit is LimitHit.cpu_time
    assert not result.timed_out
    assert result.duration_s < 10


async def test_sleeper_is_stopped_by_the_wall_clock(sandbox: Sandbox, repo: Path) -> None:
    result = await _py(sandbox, repo, "import time; time.sleep(600)", Limits(wall_time_s=1))
    assert result.timed_out and result.limit_hit is LimitHit.wall_time
    assert 1 <= result.duration_s < 5


async def test_process_ignoring_sigterm_is_killed(sandbox: Sandbox, repo: Path) -> None:
    code = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    while True:
        time.sleep(1)
    """
    result = await _py(sandbox, repo, code, Limits(wall_time_s=1))
    assert result.stdout.startswith("ready")
    assert result.timed_out and result.limit_hit is LimitHit.wall_time
    assert result.duration_s < 5


async def test_output_flood_is_cut_and_stopped(sandbox: Sandbox, repo: Path) -> None:
    limits = Limits(wall_time_s=20, output_bytes=64 * 1024)
    result = await sandbox.run(["yes", "flood"], workdir=repo, limits=limits)
    assert leftovers(sandbox, repo, UID_BASE) == []
    assert result.limit_hit is LimitHit.output
    assert "output cut at 65536 bytes" in result.stdout
    assert len(result.stdout) < 64 * 1024 + 200
    assert result.duration_s < 10


async def test_big_file_is_stopped_by_the_disk_limit(sandbox: Sandbox, repo: Path) -> None:
    limits = Limits(disk_bytes=1024 * 1024)
    result = await _py(sandbox, repo, "open('big', 'wb').write(b'x' * 4 * 2**20)", limits)
    assert result.limit_hit is LimitHit.disk
    assert (repo / "big").stat().st_size <= 1024 * 1024


@pytest.mark.parametrize(
    "target",
    ["host-tmp", "repo-parent", "etc", "usr"],
)
async def test_writes_outside_the_workdir_leave_the_host_unchanged(
    sandbox: Sandbox, repo: Path, tmp_path: Path, target: str
) -> None:
    paths = {
        "host-tmp": Path("/tmp") / f"draftsmith-escape-{os.getpid()}",
        "repo-parent": tmp_path / "escaped.txt",
        "etc": Path("/etc/draftsmith-escape"),
        "usr": Path("/usr/local/draftsmith-escape"),
    }
    path = paths[target]
    result = await sandbox.run(
        ["sh", "-c", f"echo pwned > {path}; echo rc=$?"], workdir=repo, limits=FAST
    )
    assert not path.exists(), f"the sandbox wrote {path} on the host"
    # The private /tmp takes the write; nothing reaches the host's. (Docker creates the
    # workdir's parents inside that /tmp, owned by the workdir's owner the command runs as.)
    private_tmp = {"host-tmp"} | ({"repo-parent"} if isinstance(sandbox, DockerSandbox) else set())
    if target not in private_tmp:
        assert "rc=0" not in result.stdout


async def test_host_root_is_hidden(sandbox: Sandbox, repo: Path) -> None:
    host_entries = set(os.listdir("/root")) - {".pyenv"}
    result = await sandbox.run(["ls", "-a", "/root"], workdir=repo, limits=FAST)
    visible = set(result.stdout.split()) - {".", ".."}
    assert visible <= {".pyenv"}
    assert not visible & host_entries


async def test_bot_environment_is_not_visible(
    sandbox: Sandbox, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAFTSMITH_WEBHOOK_SECRET", "s3cr3t-webhook-value")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-s3cr3t-model-key")
    result = await sandbox.run(
        ["sh", "-c", "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; ps -ef"],
        workdir=repo,
        limits=FAST,
        env={"CI": "1"},
    )
    assert result.exit_code == 0
    assert "s3cr3t" not in result.stdout + result.stderr
    assert "CI=1" in result.stdout
    assert "python -m pytest" not in result.stdout  # no host process is visible


async def test_private_key_file_is_not_readable(
    sandbox: Sandbox, repo: Path, tmp_path: Path
) -> None:
    key = tmp_path / "secrets" / "app.pem"
    key.parent.mkdir()
    key.write_text("-----BEGIN RSA PRIVATE KEY-----\nnot-for-the-sandbox\n")
    result = await sandbox.run(["cat", str(key)], workdir=repo, limits=FAST)
    assert result.exit_code != 0
    assert "not-for-the-sandbox" not in result.stdout


def _listener() -> tuple[socket.socket, list[socket.socket]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        accepted.append(conn)
        conn.sendall(b"hello from the host\n")
        conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


CONNECT = """
import socket, sys
try:
    c = socket.create_connection(("127.0.0.1", {port}), timeout=3)
    print("connected", c.recv(100))
except OSError as e:
    print("refused", e)
"""


async def test_loopback_listener_is_unreachable_without_network(
    sandbox: Sandbox, repo: Path
) -> None:
    server, accepted = _listener()
    try:
        port = server.getsockname()[1]
        result = await _py(sandbox, repo, CONNECT.format(port=port))
    finally:
        server.close()
    assert "refused" in result.stdout
    assert accepted == []


async def test_setup_network_does_not_reach_a_loopback_listener(
    sandbox: Sandbox, repo: Path
) -> None:
    """Setup's network is the egress filter only: the host's loopback is neither reachable
    directly (own network namespace) nor through the filter (refused, and recorded)."""
    server, accepted = _listener()
    port = server.getsockname()[1]
    through_proxy = f"""
import urllib.request
try:
    print("fetched", urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=5).read())
except Exception as e:
    print("proxy refused", e)
"""
    try:
        direct = await sandbox.run(
            ["python3", "-c", CONNECT.format(port=port)], workdir=repo, limits=FAST, network=True
        )
        proxied = await sandbox.run(
            ["python3", "-c", through_proxy], workdir=repo, limits=FAST, network=True
        )
    finally:
        server.close()
    assert "refused" in direct.stdout, direct.stdout + direct.stderr
    assert "proxy refused HTTP Error 403" in proxied.stdout, proxied.stdout + proxied.stderr
    assert accepted == []
    assert proxied.refused_egress == (f"127.0.0.1:{port} (not on the setup egress allow-list)",)


async def test_host_names_do_not_resolve_without_network(sandbox: Sandbox, repo: Path) -> None:
    code = """
    import socket
    try:
        print("resolved", socket.getaddrinfo("pypi.org", 443))
    except OSError as e:
        print("unresolved", e)
    """
    result = await _py(sandbox, repo, code)
    assert "unresolved" in result.stdout


async def test_symlink_in_the_repository_does_not_escape(
    sandbox: Sandbox, repo: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("host secret\n")
    (repo / "escape").symlink_to(outside)
    (repo / "passwd").symlink_to("/etc/passwd")
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
        check=True,
    )
    result = await sandbox.run(
        ["sh", "-c", "cat escape/secret.txt; echo x > escape/new.txt; echo y >> passwd"],
        workdir=repo,
        limits=FAST,
    )
    assert "host secret" not in result.stdout
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert outside.stat().st_uid == os.getuid()  # handing the workdir over never followed links
    assert Path("/etc/passwd").stat().st_uid == 0


async def test_child_left_running_is_killed_with_the_run(sandbox: Sandbox, repo: Path) -> None:
    result = await sandbox.run(
        ["sh", "-c", "setsid sleep 300 & nohup sleep 300 >/dev/null 2>&1 & echo started"],
        workdir=repo,
        limits=FAST,
    )
    assert result.stdout.strip() == "started"
    assert result.duration_s < 5
    assert leftovers(sandbox, repo, UID_BASE) == []


async def test_workdir_is_writable_and_handed_back(sandbox: Sandbox, repo: Path) -> None:
    script = "mkdir -p build && echo ok > build/out && cp /bin/true suid && chmod 4755 suid"
    result = await sandbox.run(["sh", "-c", script], workdir=repo, limits=FAST)
    assert result.ok, result.stderr
    assert (repo / "build" / "out").read_text() == "ok\n"
    owner = repo.stat().st_uid
    for path in [repo, repo / "build", repo / "build" / "out", repo / "suid", repo / "README.md"]:
        assert path.stat().st_uid == owner
    assert not (repo / "suid").stat().st_mode & stat.S_ISUID


async def test_the_repositorys_git_directory_is_read_only_inside_the_sandbox(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Code in the sandbox cannot plant a hook or git config that the host's git would run."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    hook = repo / ".git" / "hooks" / "pre-commit"
    script = (
        "import pathlib; p = pathlib.Path('.git/hooks/pre-commit');"
        "p.write_text('#!/bin/sh\\ntouch /tmp/pwned\\n')"
    )
    result = await sandbox.run(
        ["python3", "-c", script], workdir=repo, limits=Limits(wall_time_s=30)
    )
    assert result.exit_code != 0
    assert "Read-only file system" in result.stderr
    assert not hook.exists()
    config = (repo / ".git" / "config").read_text()
    append = await sandbox.run(
        ["/bin/sh", "-c", "echo '[core]\n\tfsmonitor = touch /tmp/pwned' >> .git/config"],
        workdir=repo,
        limits=Limits(wall_time_s=30),
    )
    assert append.exit_code != 0
    assert (repo / ".git" / "config").read_text() == config
