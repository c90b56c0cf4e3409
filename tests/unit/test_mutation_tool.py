"""The parts of ``make mutants`` (scripts/mutants.py) that decide its verdicts and its time:
the hang limit in tests/conftest.py, which ends a hanging test's process, and the lanes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from scripts.mutants import MINUTES, MODULES, _lanes

ROOT = Path(__file__).resolve().parents[2]


async def _pytest(test_file: Path, hang_seconds: str) -> tuple[int, str, float]:
    """Our conftest as a plugin over a test file outside the suite, as mutmut's child runs it."""
    env = {**os.environ, "HAAT_TEST_HANG_SECONDS": hang_seconds}
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
        "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml"),
        "--rootdir", str(test_file.parent), str(test_file),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(), time.monotonic() - started


async def test_a_test_that_hangs_ends_its_process_at_the_limit_with_its_name(
        tmp_path: Path) -> None:
    test_file = tmp_path / "test_hanging.py"
    test_file.write_text("import asyncio\n\n\nasync def test_waits_for_ever() -> None:\n"
                         "    await asyncio.sleep(3600)\n")
    code, output, seconds = await _pytest(test_file, "1.5")
    assert code == 1  # what scripts/mutants.py counts as killed
    assert seconds < 30
    assert "hang limit 1.5 s: test_hanging.py::test_waits_for_ever" in output
    assert "Timeout (0:00:01" in output and "most recent call first" in output


async def test_the_limit_is_disarmed_after_each_test_so_the_caller_of_pytest_lives_on(
        tmp_path: Path) -> None:
    """mutmut runs its stats and clean runs by pytest.main in its own process: a limit left
    armed after the last test would end mutmut itself."""
    test_file = tmp_path / "test_quick.py"
    test_file.write_text("import time\n\n\ndef test_a() -> None:\n    time.sleep(0.5)\n\n\n"
                         "def test_b() -> None:\n    time.sleep(0.5)\n")
    script = (
        "import sys, time, pytest\n"
        f"code = pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'tests.conftest', '-c', "
        f"{str(ROOT / 'pyproject.toml')!r}, '--rootdir', {str(tmp_path)!r}, {str(test_file)!r}])\n"
        "time.sleep(2.5)\n"
        "print('alive after', int(code))\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=ROOT,
        env={**os.environ, "HAAT_TEST_HANG_SECONDS": "1.5"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert "alive after 0" in output and output.count("hang limit 1.5 s") == 2
    assert "Timeout" not in output


def test_the_lanes_hold_every_module_once_and_the_slowest_alone_at_first() -> None:
    lanes = _lanes(list(MODULES), 2)
    assert sorted(m for lane in lanes for m in lane) == sorted(MODULES)
    slowest = max(MINUTES, key=MINUTES.__getitem__)
    assert lanes[0][0] == slowest
    minutes = [sum(MINUTES.get(m, 1.0) for m in lane) for lane in lanes]
    assert max(minutes) - min(minutes) <= max(MINUTES.values())
