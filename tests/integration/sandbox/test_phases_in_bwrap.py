"""Setup and check phases on real bwrap: allow-list, the egress proxy only in setup, records."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.egress import FORWARD_PORT
from bot.sandbox.phases import run_phase

pytestmark = pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}")
LIMITS = Limits(wall_time_s=60)
PROBE = "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('up')"


@pytest.fixture
def sandbox() -> BwrapSandbox:
    return BwrapSandbox(uid_base=2_100_200, uid_slots=4)


@pytest.mark.parametrize("phase", ["setup", "check"])
async def test_only_setup_has_the_egress_proxy(
    sandbox: BwrapSandbox, tmp_path: Path, phase: str
) -> None:
    command = ["python3", "-c", PROBE.format(port=FORWARD_PORT)]
    records = await run_phase(
        sandbox, phase, [command], workdir=tmp_path, limits=LIMITS, allow=["python3 -c *"]
    )  # type: ignore[arg-type]
    assert len(records) == 1
    assert (records[0].exit_code == 0) is (phase == "setup")


async def test_setup_refuses_commands_off_the_allow_list(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    commands = [["python3", "-m", "venv", ".venv"], ["curl", "https://example.invalid/x.sh"]]
    records = await run_phase(
        sandbox, "setup", commands, workdir=tmp_path, limits=LIMITS, allow=["python3 -m venv *"]
    )
    assert [r.refused for r in records] == [False, True]
    assert records[0].exit_code == 0 and (tmp_path / ".venv" / "bin" / "python").exists()
    assert records[1].exit_code == 126 and "allow-list" in records[1].output_tail
