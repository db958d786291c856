"""The Docker sandbox's image and identity: referred to by ID (a missing one is a clear error, not
a hang); commands run unprivileged; a container a killed worker left is removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.sandbox.base import Limits
from bot.sandbox.docker import DockerSandbox
from bot.sandbox.ownership import UidLease, reclaim
from bot.shared.errors import SandboxError
from tests.helpers.sandboxes import docker_image_problem, leftovers, require

UID_BASE = 2_100_400  # a range of our own (other suites lease theirs)


async def test_an_image_id_missing_from_the_engine_says_how_to_build_it(tmp_path: Path) -> None:
    require("docker")
    sandbox = DockerSandbox("sha256:" + "0" * 64)
    with pytest.raises(SandboxError) as err:
        await sandbox.run(["/bin/true"], workdir=tmp_path, limits=Limits(wall_time_s=30))
    assert "is not on this engine" in str(err.value)
    assert "scripts/build_sandbox_image.sh" in str(err.value)


async def test_the_built_image_runs_commands_as_the_workdirs_owner(tmp_path: Path) -> None:
    """Run as an ordinary user, the command is the workdir's owner; run as root (here, CI), a
    leased unprivileged uid, never host uid 0. Either way without capabilities, with
    no_new_privs, and every file it wrote is the workdir owner's afterwards."""
    require("docker")
    sandbox = DockerSandbox(docker_image_problem()[1], uid_base=UID_BASE, uid_slots=4)
    script = "id -u; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status;"
    script += " echo report > junit.xml; mkdir -p out/deep; touch out/deep/f"
    result = await sandbox.run(["sh", "-c", script], workdir=tmp_path, limits=Limits())
    assert result.ok, result.stderr
    uid, *status = result.stdout.splitlines()
    if os.geteuid() == 0:
        assert UID_BASE <= int(uid) < UID_BASE + 4
    else:
        assert int(uid) == tmp_path.stat().st_uid
    fields = dict(line.split(":\t") for line in status)
    assert {k: fields[k] for k in ("CapPrm", "CapEff", "CapBnd", "CapAmb")} == dict.fromkeys(
        ("CapPrm", "CapEff", "CapBnd", "CapAmb"), "0000000000000000"
    )
    assert fields["NoNewPrivs"] == "1"
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [tmp_path, *tmp_path.rglob("*")]}
    assert owners == {(os.geteuid(), os.getegid())}


async def test_a_container_left_by_a_killed_worker_is_removed_before_the_next_command(
    tmp_path: Path,
) -> None:
    """A worker SIGKILLed mid-command leaves its container running in the workdir, writing on
    after the resume's reclaim; the next command there (the resumed run's, under another sandbox
    uid) removes it first, and leaves nothing owned by a sandbox uid."""
    require("docker")
    image = docker_image_problem()[1]
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, image, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    try:
        for _ in range(600):  # up to 60 s for the container to start
            if (tmp_path / "started").exists() or worker.poll() is not None:
                break
            threading.Event().wait(0.1)  # never set: the polling interval
        assert (tmp_path / "started").exists(), "the worker's command never started"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    assert len(leftovers(DockerSandbox(image), tmp_path)) == 1  # still running, orphaned
    reclaim(tmp_path)  # what resuming does to the workspace; the orphan goes on writing
    orphan_uid = os.geteuid()
    for _ in range(300):
        owners = {p.stat().st_uid for p in tmp_path.glob("late*")}
        if owners - {os.geteuid()}:
            (orphan_uid,) = owners - {os.geteuid()}
            break
        threading.Event().wait(0.1)  # never set: the polling interval
    assert orphan_uid != os.geteuid() or os.geteuid() != 0
    held = UidLease(orphan_uid, 1) if os.geteuid() == 0 else None  # the next command: another uid
    try:
        sandbox = DockerSandbox(image)  # the production uid range, which reclaim knows
        result = await sandbox.run(["sh", "-c", "ls"], workdir=tmp_path, limits=Limits())
    finally:
        if held is not None:
            held.release()
    assert result.ok, result.stderr
    assert leftovers(sandbox, tmp_path) == []
    owners = {p.stat().st_uid for p in [tmp_path, *tmp_path.rglob("*")]}
    assert owners == {os.geteuid()}


KILLED_WORKER = """
import asyncio, sys
from pathlib import Path
from bot.sandbox.base import Limits
from bot.sandbox.docker import DockerSandbox

image, workdir = sys.argv[1], Path(sys.argv[2])
sandbox = DockerSandbox(image)
# It opens its workdir to everyone (reclaim gives back owners, not modes), then writes on.
script = "chmod 777 .; touch started; while :; do touch late$(date +%s%N); sleep 0.2; done"
command = ["sh", "-c", script]
asyncio.run(sandbox.run(command, workdir=workdir, limits=Limits(wall_time_s=900)))
"""
