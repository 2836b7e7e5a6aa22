"""The ``pixverse`` command: every command, run in-process through ``main(argv)``.

``main`` runs ``asyncio.run``, so these tests are synchronous. Commands that need state to
outlive one invocation (ids, a journal to resume) talk to an emulator served from a
background thread; the others use ``--emulator`` (an in-process emulator per command).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from pixverse_async.batch.runner import Progress
from pixverse_async.cli import main
from pixverse_async.cli.options import GENERATE_KINDS, field_options
from pixverse_async.cli.progress import BatchProgress, format_seconds
from pixverse_async.cli.table import format_table
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.threaded import EmulatorThread
from pixverse_async.models import REQUEST_KINDS

KEY = "cli-test-key"
ASSETS = Path(str(resources.files("pixverse_async.emulator") / "assets"))
PNG = str(ASSETS / "sample.png")
MP4 = str(ASSETS / "sample.mp4")
T2V = {
    "kind": "text_to_video",
    "model": "v5",
    "duration": 5,
    "quality": "540p",
    "aspect_ratio": "16:9",
}


@pytest.fixture
def live() -> Iterator[Emulator]:
    """An emulator served from its own thread, so it outlives each ``main()`` call.

    Its clock is manual: generations end at once unless a test gives them time
    (``generation_seconds``) and ends them itself (``finish``).
    """
    with EmulatorThread(Emulator(api_keys={KEY}, clock="manual", generation_seconds=0)) as emu:
        yield emu


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for something another process or thread does (not for a duration)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.01)


def on(emu: Emulator, *argv: str) -> list[str]:
    """Global options pointing a command at ``emu`` with fast polling."""
    return ["--base-url", emu.base_url, "--api-key", KEY, "--poll-interval", "0.02", *argv]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    """Run a command with --json; return its one JSON object (or list of them)."""
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    objects = [json.loads(line) for line in out.splitlines()]
    return objects[0] if len(objects) == 1 else objects


def is_mp4(path: Path) -> bool:
    return path.read_bytes()[4:8] == b"ftyp"


# --- usage ---------------------------------------------------------------------------------------


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in (
        "demo",
        "generate",
        "upload",
        "status",
        "wait",
        "download",
        "batch",
        "speakers",
        "restyles",
        "balance",
        "mask",
        "emulator",
        "exit codes",
    ):
        assert command in out
    assert main(["--version"]) == 0
    assert "pixverse-async" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "required" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(GENERATE_KINDS))
def test_generate_options_come_from_the_request_fields(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", name, "--help"]) == 0
    out = capsys.readouterr().out
    for opt in field_options(REQUEST_KINDS[GENERATE_KINDS[name]]):
        assert opt.flag in out
    assert "--wait" in out and "--download" in out


def test_field_option_types() -> None:
    opts = {o.name: o for o in field_options(REQUEST_KINDS["text_to_video"])}
    assert opts["prompt"].required and opts["model"].default == "v5"
    assert opts["quality"].choices is None  # qualities newer than the SDK are sent as written
    assert "e.g. 360p, 540p, 720p, 1080p (default: 540p)" in opts["quality"].help
    assert opts["model"].choices is None  # models newer than the SDK are allowed
    assert opts["seed"].parse("42") == 42
    assert opts["sound_effect_switch"].is_bool and opts["sound_effect_switch"].parse("no") is False
    frames = {o.name: o for o in field_options(REQUEST_KINDS["multi_transition"])}
    assert frames["multi_transition"].parse('[{"img_id": 1}]') == [{"img_id": 1}]


@pytest.mark.parametrize(
    "argv, needle",
    [
        (
            [
                "generate",
                "swap",
                "--video-media-id",
                "1",
                "--mask-id",
                "1",
                "--img-id",
                "1",
                "--quality",
                "1080p",
            ],
            "quality: must be 360p, 540p or 720p on swap",
        ),
        (["generate", "text", "--prompt", "x", "--seed", "abc"], "invalid"),
        (["generate", "multi-transition", "--multi-transition", "[{"], "not valid JSON"),
        (["generate", "text"], "--prompt"),
        (["generate", "text", "--prompt", "x", "--sound-effect-switch", "maybe"], "true or false"),
    ],
)
def test_bad_options_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--emulator", *argv]) == 2
    assert needle in capsys.readouterr().err


def test_validation_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--emulator", "generate", "text", "--prompt", "x", "--duration", "8", "--quality", "1080p"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "pixverse: error: ValidationError: duration: 8 s is not available at 1080p on model v5\n"
    )


def test_missing_api_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXVERSE_API_KEY", raising=False)
    assert main(["balance"]) == 2
    assert "PIXVERSE_API_KEY" in capsys.readouterr().err


def test_api_key_and_base_url_from_the_environment(
    live: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXVERSE_API_KEY", KEY)
    monkeypatch.setenv("PIXVERSE_BASE_URL", live.base_url)
    assert run_json(capsys, ["balance"])["account_id"] == 1001


def test_api_error_is_one_line_with_code_and_trace_id(
    live: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--base-url", live.base_url, "--api-key", "wrong", "balance"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("pixverse: error: AuthenticationError: ErrCode 10003 (HTTP 401)")
    assert "trace_id=" in err


def test_debug_logs_requests_without_the_key(
    live: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*on(live, "balance"), "--debug"]) == 0
    err = capsys.readouterr().err
    assert "GET /openapi/v2/account/balance" in err and "trace_id=" in err
    assert KEY not in err
    assert main(on(live, "--debug", "status", "999")) == 1  # an API error: still no traceback
    err = capsys.readouterr().err
    assert "NotFoundError" in err and "Traceback" not in err


# --- single calls --------------------------------------------------------------------------------


def test_generate_wait_download_on_the_in_process_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_json(
        capsys,
        [
            "--emulator",
            "generate",
            "text",
            "--prompt",
            "a red kite",
            "--download",
            str(tmp_path) + "/",
        ],
    )
    assert result["status"] == "successful" and result["credits"] == 45  # published v5 540p 5 s
    assert is_mp4(Path(result["path"]))
    assert Path(result["path"]).parent == tmp_path


def test_generate_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "generate", "text", "--prompt", "a red kite"]) == 0
    out = capsys.readouterr().out
    assert "video_id" in out and "submitted" in out


def test_failed_generation_exits_1(capsys: pytest.CaptureFixture[str], live: Emulator) -> None:
    assert main(on(live, "generate", "text", "--prompt", "a kite #fail", "--wait")) == 1
    assert "VideoFailedError" in capsys.readouterr().err


def test_status_wait_download(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live.config.generation_seconds = 3600
    video_id = str(run_json(capsys, on(live, "generate", "text", "--prompt", "x"))["video_id"])
    assert run_json(capsys, on(live, "status", video_id))["status"] == "generating"
    live.finish(int(video_id))
    assert run_json(capsys, on(live, "wait", video_id))["status"] == "successful"
    saved = run_json(capsys, on(live, "download", video_id, str(tmp_path / "v.mp4")))
    assert is_mp4(Path(saved["path"]))
    assert main(on(live, "download", video_id, str(tmp_path))) == 0  # a folder: <id>.mp4
    assert is_mp4(tmp_path / f"{video_id}.mp4")
    capsys.readouterr()


def test_every_generation_kind(live: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    """Each ``generate`` subcommand once, ids chained, paths uploaded on the fly."""
    video = run_json(
        capsys,
        on(
            live,
            "generate",
            "text",
            "--prompt",
            "x",
            "--wait",
            "--sound-effect-switch",
            "--sound-effect-content",
            "rain",
        ),
    )
    body = live.state.generations[video["video_id"]].body
    assert body["sound_effect_switch"] is True and body["sound_effect_content"] == "rain"
    vid = str(video["video_id"])
    image = run_json(capsys, on(live, "upload", "image", PNG))["img_id"]
    media = run_json(capsys, on(live, "upload", "media", MP4))
    assert media["media_type"] == "video"
    mask = run_json(capsys, on(live, "mask", "--video-media-id", str(media["media_id"])))
    frames = json.dumps([{"img_id": PNG, "duration": 3}, {"img_id": image}])
    refs = json.dumps([{"type": "subject", "img_id": PNG, "ref_name": "dog"}])
    calls = [
        ["image", "--img-id", PNG, "--prompt", "x"],
        ["transition", "--first-frame-img", PNG, "--last-frame-img", str(image), "--prompt", "x"],
        ["multi-transition", "--multi-transition", frames],
        ["extend", "--source-video-id", vid, "--prompt", "x", "--seed", "7"],
        ["extend", "--video-media-id", MP4, "--prompt", "x", "--seed", "7"],
        ["fusion", "--image-references", refs, "--prompt", "@dog runs", "--seed", "1"],
        ["restyle", "--source-video-id", vid, "--restyle-id", "1"],
        [
            "swap",
            "--video-media-id",
            str(media["media_id"]),
            "--mask-id",
            mask[0]["mask_id"],
            "--img-id",
            str(image),
        ],
        [
            "lip-sync",
            "--source-video-id",
            vid,
            "--lip-sync-tts-speaker-id",
            "Auto",
            "--lip-sync-tts-content",
            "hello",
        ],
        ["sound-effect", "--source-video-id", vid, "--original-sound-switch", "false"],
    ]
    for call in calls:
        result = run_json(capsys, on(live, "generate", *call))
        assert result["status"] == "submitted", call
    paths = {g.path.rsplit("/", 2)[-2] for g in live.state.generations.values()}
    assert {
        "text",
        "img",
        "transition",
        "multi_transition",
        "extend",
        "fusion",
        "restyle",
        "swap",
        "lip_sync",
        "sound_effect",
    } <= paths


def test_upload_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--emulator", "upload", "image", str(tmp_path / "missing.png")]) == 2
    assert "cannot upload" in capsys.readouterr().err
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    assert main(["--emulator", "upload", "image", str(text)]) == 2
    assert "UnsupportedFileTypeError" in capsys.readouterr().err  # an UploadError: exit 2
    assert (
        main(
            [
                "--emulator",
                "generate",
                "image",
                "--img-id",
                str(tmp_path / "no.png"),
                "--prompt",
                "x",
            ]
        )
        == 2
    )
    capsys.readouterr()


def test_catalogs_and_balance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "speakers"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["speaker_id", "name"] and "Harper" in out
    restyles = run_json(capsys, ["--emulator", "restyles"])
    assert len(restyles) == 12 and restyles[0]["name"] == "Anime"
    assert main(["balance", "--emulator"]) == 0  # global options also after the command
    assert "credit_monthly" in capsys.readouterr().out


# --- batch ---------------------------------------------------------------------------------------


def write_jobs(path: Path, prompts: list[str]) -> Path:
    lines = [json.dumps({**T2V, "prompt": p}) for p in prompts]
    path.write_text("\n".join(["# a comment", *lines, ""]), encoding="utf-8")
    return path


def test_batch_downloads_summarises_and_resumes(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = write_jobs(tmp_path / "jobs.jsonl", ["one", "two #fail", "three", "four"])
    out = tmp_path / "videos"
    argv = on(live, "batch", str(jobs), "--concurrency", "2", "--out", str(out))
    assert main(argv) == 1  # one job failed
    captured = capsys.readouterr()
    assert "4 jobs: 3 succeeded, 1 failed, 0 unknown; 3 saved" in captured.out
    assert "VideoFailedError" in captured.out and "line" in captured.out
    assert "4/4  " in captured.err  # the progress line
    assert (tmp_path / "jobs.jsonl.journal.sqlite").exists()
    assert len(list(out.glob("*.mp4"))) == 3 and all(is_mp4(p) for p in out.glob("*.mp4"))
    submitted = len(live.state.generations)

    assert main(["--json", *argv]) == 1  # the same command: everything from the journal
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(live.state.generations) == submitted
    summary = records.pop()["summary"]
    assert summary["resumed"] == 4 and summary["succeeded"] == 3 and summary["failed"] == 1
    assert sorted(r["line"] for r in records) == [2, 3, 4, 5]
    assert all(r["resumed"] for r in records)

    assert main([*argv, "--retry-failed"]) == 1  # submitted again, and fails again
    assert len(live.state.generations) == submitted + 1
    capsys.readouterr()


def test_batch_all_succeed_with_kind_aliases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({**T2V, "kind": "text", "prompt": "a"}) + "\n")
    assert main(["--emulator", "batch", str(jobs), "--journal", str(tmp_path / "j.sqlite")]) == 0
    assert "1 jobs: 1 succeeded" in capsys.readouterr().out
    assert (tmp_path / "j.sqlite").exists()


@pytest.mark.parametrize(
    "content, needle",
    [
        ('{"kind": "text_to_video", "model": "v5"}\n', "jobs.jsonl:1: ValidationError: prompt"),
        ('\n{"kind": "nope"}\n', "jobs.jsonl:2: ValidationError: kind"),
        ("{oops\n", "jobs.jsonl:1: not valid JSON"),
        ('{"kind": "mask_selection", "video_media_id": 1}\n', "pixverse mask"),
        ("\n# nothing\n", "no requests"),
    ],
)
def test_batch_rejects_bad_files_before_sending(
    content: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(content)
    assert main(["--emulator", "batch", str(jobs)]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "jobs.jsonl.journal.sqlite").exists()


def test_batch_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "batch", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery")
def test_interrupted_batch_resumes_with_the_same_command(
    live: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live.config.generation_seconds = 3600  # nothing ends until the test says so
    jobs = write_jobs(tmp_path / "jobs.jsonl", [f"scene {i}" for i in range(12)])
    argv = on(live, "--json", "batch", str(jobs), "--concurrency", "4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixverse_async", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    wait_until(lambda: len(live.state.generations) == 4)  # the first four are in flight
    live.finish(min(live.state.generations))
    first = proc.stdout.readline()  # one job finished: the rest are queued or in flight
    assert json.loads(first)["state"] == "succeeded"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "rerun the same command to resume" in err
    # Those in flight, and perhaps the one that took the finished job's place before SIGINT.
    assert len(live.state.generations) in (4, 5)

    live.config.generation_seconds = 0
    live.finish_all()

    code = main(argv)
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = records.pop()["summary"]
    # Nothing was submitted twice: the journal knew every id the first run got. A submit cut
    # off by the interrupt is "unknown" (never sent again) whether or not it reached the
    # service.
    assert max(live.state.generation_count_by_prompt().values()) == 1
    assert 12 - summary["unknown"] <= len(live.state.generations) <= 12
    assert summary["total"] == 12 and summary["failed"] == 0
    assert code == (0 if summary["unknown"] == 0 else 1)
    ids = [r["video_id"] for r in records if r["state"] == "succeeded"]
    assert len(ids) == len(set(ids)) == summary["succeeded"]


# --- demo and the emulator command ---------------------------------------------------------------


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert time.monotonic() - started < 10
    out = capsys.readouterr().out
    videos = sorted((tmp_path / "demo").glob("*.mp4"))
    assert len(videos) == 6 and all(is_mp4(v) for v in videos)
    for kind in ("text_to_video", "image_to_video", "transition"):
        assert kind in out
    for video in videos:
        assert video.name in out
    assert "6 jobs: 6 succeeded, 0 failed, 0 unknown; 6 saved" in out


def test_emulator_command_serves_until_interrupted(capsys: pytest.CaptureFixture[str]) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pixverse_async",
            "emulator",
            "--port",
            "0",
            "--generation-seconds",
            "0.1",
            "--api-key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on" in line
        url = line.rsplit(" ", 1)[-1].strip()
        assert main(["--base-url", url, "--api-key", KEY, "balance"]) == 0
        assert "credit_monthly" in capsys.readouterr().out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_python_dash_m(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PIXVERSE_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "pixverse_async", "balance"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and done.stderr.startswith("pixverse: error: no API key")


# --- output helpers ------------------------------------------------------------------------------


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    now = [0.0]
    stream = io.StringIO()
    bar = BatchProgress(10, stream=stream, tty=True, interval=0.0, clock=lambda: now[0])
    now[0] = 4.0
    bar.update(Progress(succeeded=3, failed=1, running=2, queued=4))
    text = stream.getvalue()
    assert text.startswith("\r\x1b[K[########------------]  4/10  4s  ETA 6s") and "ok 3" in text
    assert len(text) <= 4 + 79 and text.endswith("unknown 0")  # what fits in 80 columns
    bar.clear()
    assert stream.getvalue().endswith("\r\x1b[K")
    bar.close()
    assert stream.getvalue().endswith("\n")


def test_progress_lines_elsewhere_are_plain_and_throttled() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = BatchProgress(2, stream=stream, tty=False, clock=lambda: now[0])
    bar.update(Progress(running=2))
    bar.update(Progress(succeeded=1, running=1))  # too soon for another line
    now[0] = 1.0
    bar.update(Progress(succeeded=2))
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\x1b" not in stream.getvalue()
    assert lines[-1].startswith("2/2  1s  | ok 2  failed 0")


def test_progress_line_counts_other_workers_ends_and_says_when_a_dead_workers_lease_ends() -> None:
    bar = BatchProgress(10, stream=io.StringIO(), tty=False, clock=lambda: 5.0)
    bar.update(Progress(succeeded=3, elsewhere=6, lease_wait=7.2))
    line = bar.line()
    assert line.startswith("9/10  ")  # the batch's progress: this worker's ends and others'
    assert "ok 3  failed 0  unknown 0  by others 6" in line
    assert "a worker died: its requests are taken over in 7s" in line
    bar.update(Progress(succeeded=4, elsewhere=6))
    assert "died" not in bar.line()


def test_table_and_durations() -> None:
    table = format_table(["id", "name"], [{"id": 7, "name": "a"}, {"id": 123, "name": None}])
    assert table.splitlines() == [" id  name", "---  ----", "  7  a", "123"]
    assert format_seconds(59.6) == "1m00s"
