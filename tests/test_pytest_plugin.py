"""The pytest plugin, as a user gets it: a separate pytest process, loaded by entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixverse_async.emulator import Emulator

USER_PROJECT = Path(__file__).parent / "user_project"


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               "-W", "error::ResourceWarning", *args]  # fmt: skip
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def passed(result: subprocess.CompletedProcess[str], count: int) -> None:
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0 and f"{count} passed" in summary, result.stdout + result.stderr
    assert "failed" not in summary and "error" not in summary, summary


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_readme_examples_pass_under_pytest_asyncio(mode: str) -> None:
    passed(run_pytest(USER_PROJECT, "-o", f"asyncio_mode={mode}", "test_clips.py"), 5)


def test_the_readme_examples_pass_under_anyio() -> None:
    passed(run_pytest(USER_PROJECT, "-p", "no:asyncio", "test_clips_anyio.py"), 5)


def test_anyio_and_strict_pytest_asyncio_side_by_side() -> None:
    passed(run_pytest(USER_PROJECT, "-o", "asyncio_mode=strict"), 10)


def test_the_fixtures_come_from_the_entry_point() -> None:
    result = run_pytest(USER_PROJECT, "-p", "no:pixverse", "test_clips.py::test_makes_a_clip")
    assert result.returncode != 0
    assert "fixture 'pixverse_client' not found" in result.stdout


def write_project(root: Path, test_source: str) -> Path:
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (root / "test_it.py").write_text(test_source)
    return root


def test_a_suite_that_does_not_use_it_imports_nothing_of_the_sdk(tmp_path: Path) -> None:
    project = write_project(tmp_path, (
        "import sys\n"
        "def test_nothing_heavy_was_imported():\n"
        "    assert 'pytest_pixverse' in sys.modules\n"
        "    heavy = {'pixverse_async', 'aiohttp'} & set(sys.modules)\n"
        "    assert heavy == set(), heavy\n"
    ))  # fmt: skip
    passed(run_pytest(project), 1)  # pytest-asyncio and anyio active, as usual


def test_a_sync_test_gets_the_emulator_and_a_clear_error_for_the_client(tmp_path: Path) -> None:
    project = write_project(tmp_path, (
        "import json, urllib.request\n"
        "def test_sync(pixverse_emulator):\n"
        "    request = urllib.request.Request(pixverse_emulator.base_url\n"
        "        + '/openapi/v2/account/balance', headers={'API-KEY': 'pixverse-test-key',\n"
        "        'Ai-trace-id': '0b6f1c1e-1d1a-4c5e-9a39-5f3f1f0a2b11'})\n"
        "    with urllib.request.urlopen(request) as answer:\n"
        "        assert json.load(answer)['ErrCode'] == 0\n"
        "    assert len(pixverse_emulator.requests_to('balance')) == 1\n"
        "def test_client_in_a_sync_test(pixverse_client):\n"
        "    pass\n"
    ))  # fmt: skip
    result = run_pytest(project, "-p", "no:asyncio", "-p", "no:anyio")
    assert "1 passed, 1 error" in result.stdout, result.stdout
    assert "pixverse_client needs an async test" in result.stdout


def test_the_marker_configures_the_emulator_and_refuses_unknown_options(tmp_path: Path) -> None:
    project = write_project(tmp_path, (
        "import pytest\n"
        "@pytest.mark.pixverse(credits=40, api_key='mine', generation_seconds=30,\n"
        "                      webhooks={'7': ('http://127.0.0.1:9/hook', 'whsec-x')})\n"
        "def test_configured(pixverse_emulator):\n"
        "    assert pixverse_emulator.config.webhooks['7'].url == 'http://127.0.0.1:9/hook'\n"
        "    assert pixverse_emulator.config.credits == 40\n"
        "    assert pixverse_emulator.config.api_keys == {'mine'}\n"
        "    assert pixverse_emulator.clock.manual\n"
        "    assert pixverse_emulator.config.generation_seconds == 30\n"
        "@pytest.mark.pixverse(colour='red')\n"
        "def test_unknown(pixverse_emulator):\n"
        "    pass\n"
    ))  # fmt: skip
    result = run_pytest(project, "-p", "no:asyncio", "-p", "no:anyio")
    assert "1 passed" in result.stdout, result.stdout
    assert "unknown option 'colour'" in result.stdout + result.stderr


def test_a_user_test_of_refunds_sees_finish_move_the_ledger(tmp_path: Path) -> None:
    project = write_project(tmp_path, (
        "import pytest\n"
        "from pixverse_async import VideoFailedError\n"
        "@pytest.mark.asyncio\n"
        "@pytest.mark.pixverse(credits=100, generation_seconds=60)\n"
        "async def test_refund(pixverse_client, pixverse_emulator):\n"
        "    job = await pixverse_client.videos.text_to_video(prompt='a cat', model='v5',\n"
        "        duration=5, quality='540p', aspect_ratio='16:9')\n"
        "    balance = pixverse_client.account.balance\n"
        "    assert (await balance()).credit_monthly == 100 - job.credits\n"
        "    pixverse_emulator.finish(job.video_id, outcome='failed')\n"
        "    with pytest.raises(VideoFailedError):\n"
        "        await job.wait()\n"
        "    pixverse_emulator.finish(job.video_id, outcome='deleted')\n"
        "    pixverse_emulator.advance(600)\n"
        "    assert (await balance()).credit_monthly == 100\n"
        "    ledger = pixverse_emulator.state.ledger\n"
        "    assert ledger.refunded('pixverse-test-key') == job.credits\n"
        "    assert ledger.by_video('pixverse-test-key') == {job.video_id: 0}\n"
    ))  # fmt: skip
    passed(run_pytest(project, "-p", "no:anyio"), 1)


def readme_blocks() -> list[str]:
    """The ``py`` blocks of "Testing your code": a project's files and a fixture excerpt, so
    tested here (as the sample project, and run against an emulator) rather than as whole
    programs by test_readme_samples.py, which runs the ``python`` blocks."""
    page = (Path(__file__).parents[1] / "docs" / "guides" / "testing.md").read_text()
    section = page.split("# Testing your code", 1)[1].split("\n## ", 1)[0]
    return [block.split("```", 1)[0] for block in section.split("```py\n")[1:]]


def test_the_guide_shows_the_sample_project_as_it_is() -> None:
    files = [(USER_PROJECT / name).read_text() for name in ("clips.py", "test_clips.py")]
    assert readme_blocks()[:2] == files


def test_the_guide_fault_examples_run_as_shown() -> None:
    emulator = Emulator()
    exec(readme_blocks()[2], {"pixverse_emulator": emulator})
    assert emulator.faults.rules == []  # the example ends with clear()


def test_the_readmes_plugin_sample_passes_beside_the_sample_project(tmp_path: Path) -> None:
    """README's short test file, saved beside the sample project's ``clips.py``, passes."""
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Testing your code with the plugin", 1)[1].split("\n## ", 1)[0]
    block = section.split("```py\n", 1)[1].split("```", 1)[0]
    project = tmp_path / "project"
    shutil.copytree(USER_PROJECT, project, ignore=shutil.ignore_patterns("test_*", "__pycache__"))
    (project / "test_readme.py").write_text(block)
    passed(run_pytest(project, "test_readme.py"), 2)
