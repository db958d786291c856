"""Descriptors handed into a Docker container (`pass_fds`) arrive through FIFOs, write-only.

Run against the real engine and the sandbox image (tests/helpers/sandboxes.py skips without them,
or fails in CI).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from bot.sandbox.base import ExecResult, Limits, Sandbox
from bot.sandbox.docker_fds import FD_MOUNT_DIR
from tests.helpers.sandboxes import make_sandbox

LIMITS = Limits(wall_time_s=60, cpu_time_s=30)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return make_sandbox("docker")


def _fifo_dirs() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("draftsmith-fd-")}


async def _run(
    sandbox: Sandbox, workdir: Path, script: str, *, network: bool = False
) -> tuple[ExecResult, bytes]:
    """Run `python3 -c script` (FD stands for the descriptor) with a pipe's write end handed in.

    Returns the result and everything the pipe received. Once `run` has returned, nothing may
    hold the write end any more: reading without blocking must reach the end of file.
    """
    read_end, write_end = os.pipe()
    try:
        result = await sandbox.run(
            ["python3", "-c", script.replace("FD", str(write_end))],
            workdir=workdir,
            limits=LIMITS,
            network=network,
            pass_fds=(write_end,),
        )
        os.close(write_end)
        os.set_blocking(read_end, False)
        received = bytearray()
        while chunk := os.read(read_end, 65536):  # BlockingIOError: a writer is still open
            received += chunk
        return result, bytes(received)
    finally:
        os.close(read_end)


async def test_what_the_command_writes_to_the_descriptor_reaches_the_host(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    before = _fifo_dirs()
    script = (
        "import os, subprocess, sys\n"
        "os.write(FD, b'one\\n')\n"
        "child = 'import os; os.write(FD, bytes([116, 119, 111, 10]))'\n"
        "subprocess.run([sys.executable, '-c', child], pass_fds=(FD,), check=True)\n"
        "sys.exit(3)\n"
    )
    result, received = await _run(sandbox, tmp_path, script)
    assert result.exit_code == 3, result.stderr
    assert received == b"one\ntwo\n"
    assert _fifo_dirs() == before  # the FIFO directory is removed


async def test_the_container_cannot_read_back_its_fifo(sandbox: Sandbox, tmp_path: Path) -> None:
    fifo = f"{FD_MOUNT_DIR}/FD"
    script = (
        "import os\n"
        "os.write(FD, b'kept\\n')\n"
        "for attempt in (lambda: os.open('FIFO', os.O_RDONLY | os.O_NONBLOCK),"
        " lambda: os.chmod('FIFO', 0o666)):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('allowed')\n"
        "    except PermissionError as exc:\n"
        "        print('refused', exc.errno)\n"
    ).replace("FIFO", fifo)
    result, received = await _run(sandbox, tmp_path, script)
    assert received == b"kept\n"
    assert result.stdout.split() == ["refused", "13", "refused", "1"], result.stderr


async def test_a_command_that_never_writes_ends_the_stream(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    result, received = await _run(sandbox, tmp_path, "import os; os.close(FD)")
    assert result.exit_code == 0, result.stderr
    assert received == b""


async def test_the_descriptor_reaches_a_setup_command_behind_the_egress_forwarder(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    result, received = await _run(
        sandbox, tmp_path, "import os; os.write(FD, b'setup\\n')", network=True
    )
    assert result.exit_code == 0, result.stderr
    assert received == b"setup\n"
