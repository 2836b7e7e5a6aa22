"""README's two-command quickstart works on a fresh machine.

The first line runs for real: a fresh virtual environment, ``pip install .`` of a copy of this
repository (pip's cache allowed), then the installed ``pixverse demo``. The second line would
rerun this very suite, so it is checked instead to be the command ``.ci/run`` runs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_LINE = "python -m pip install -e '.[dev]' && python -m pytest -q -W error::ResourceWarning"


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def code_lines(text: str) -> list[str]:
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def quickstart_lines() -> list[str]:
    lines = code_lines(section("Quickstart: two commands"))
    assert len(lines) == 2, lines
    return lines


def test_second_line_is_the_tests_section_and_what_ci_runs() -> None:
    line = quickstart_lines()[1]
    assert line == TEST_LINE
    assert code_lines(section("Development")) == [TEST_LINE]
    install, pytest_run = (part.strip() for part in line.split("&&"))
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert pytest_run in ci  # the very same test command
    ci_installs = [shlex.split(ln) for ln in ci if ln.startswith("python -m pip install")]
    wanted = shlex.split(install)
    assert any([w for w in words if w != "--quiet"] == wanted for words in ci_installs), ci


def _copy_repository(dest: Path) -> None:
    """The files git would see (tracked and new, not ignored); everything but caches without git."""
    try:
        listed = (
            subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=ROOT,
                capture_output=True,
                check=True,
                timeout=30,
            )
            .stdout.decode()
            .split("\0")
        )
    except (OSError, subprocess.CalledProcessError):
        ignore = shutil.ignore_patterns(
            ".git", ".venv", ".ci-venv", "*cache*", "build", "*.egg-info"
        )
        shutil.copytree(ROOT, dest, ignore=ignore)
        return
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def test_first_line_installs_and_runs_the_demo_in_a_fresh_venv(tmp_path: Path) -> None:
    line = quickstart_lines()[0]
    assert line.startswith("python -m pip install . && ")
    src = tmp_path / "pixverse-async"
    _copy_repository(src)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIXVERSE_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env.update(
        PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    done = subprocess.run(
        line, shell=True, cwd=src, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    videos = sorted((src / "pixverse-demo").glob("*.mp4"))
    assert len(videos) == 6
    assert all(v.read_bytes()[4:8] == b"ftyp" for v in videos)
    assert "6 jobs: 6 succeeded, 0 failed, 0 unknown; 6 saved" in done.stdout
    for video in videos:
        assert video.name in done.stdout
    # Installed, not imported from the copy: the package lives in the venv.
    where = subprocess.run(
        [str(bindir / "python"), "-c", "import pixverse_async; print(pixverse_async.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert str(venv) in where
    # The console script is the same command.
    script = subprocess.run(
        [str(bindir / "pixverse"), "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert script.returncode == 0 and "pixverse-async" in script.stdout


def test_install_names_only_what_a_clone_has() -> None:
    """Install's lines install the clone (``.``), an extra pyproject.toml declares, or the wheel
    ``python -m build`` writes; none names a package index (the package is not published)."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    blocks = re.findall(r"```bash\n(.*?)```", section("Install"), re.S)
    commands = [c.split("#")[0].strip() for b in blocks for line in b.splitlines() for c in
                line.split("&&") if c.strip()]  # fmt: skip
    installs = [shlex.split(c)[4:] for c in commands if c.startswith("python -m pip install")]
    assert ["."] in installs and ["dist/pixverse_async-*.whl"] in installs, installs
    assert [".[postgres]"] in installs and "postgres" in extras
    for target in installs:
        if target[0].startswith(".["):
            assert target[0][2:-1] in extras
        else:
            assert target[0] in {".", "build", "dist/pixverse_async-*.whl"}, target
    assert "python -m build" in commands and "build" in str(extras["dev"])
    assert "pip install pixverse-async" not in section("Install")
    assert '/bin/python" -m build --outdir' in (ROOT / ".ci" / "wheel-install").read_text()
    assert ".ci/wheel-install" in (ROOT / ".ci" / "run").read_text()
