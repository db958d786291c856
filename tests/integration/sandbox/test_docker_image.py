"""The Docker sandbox's image: referred to by ID; a missing one is a clear error, not a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import SandboxError
from bot.sandbox.base import Limits
from bot.sandbox.docker import DockerSandbox
from tests.helpers.sandboxes import docker_image_problem, require


async def test_an_image_id_missing_from_the_engine_says_how_to_build_it(tmp_path: Path) -> None:
    require("docker")
    sandbox = DockerSandbox("sha256:" + "0" * 64)
    with pytest.raises(SandboxError) as err:
        await sandbox.run(["/bin/true"], workdir=tmp_path, limits=Limits(wall_time_s=30))
    assert "is not on this engine" in str(err.value)
    assert "scripts/build_sandbox_image.sh" in str(err.value)


async def test_the_built_image_runs_commands_as_the_workdirs_owner(tmp_path: Path) -> None:
    require("docker")
    sandbox = DockerSandbox(docker_image_problem()[1])
    result = await sandbox.run(
        ["sh", "-c", "id -u; echo report > junit.xml"], workdir=tmp_path, limits=Limits()
    )
    assert result.ok, result.stderr
    assert result.stdout.split() == [str(tmp_path.stat().st_uid)]
    assert (tmp_path / "junit.xml").stat().st_uid == tmp_path.stat().st_uid
