"""Hand-off to CodeBuild: a repository above the threshold starts one build, and the build's command backs it up."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pygit2
import pytest

from codereflex.aws.codebuild import CodeBuildProjects
from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.catalog import list_backups, load_manifest
from codereflex.backup.restore import restore
from codereflex.cli.main import main
from sandbox.aws.moto_ext import hold_builds, set_build_status
from sandbox.local import Sandbox
from tests.integration.repo_backup.test_app import Pusher, _show_ref

# A few bytes: any first fetch passes it, so the function aborts it and hands the repository off.
TINY_MIB = "0.00001"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    # Warnings and metrics stay on: a hand-off taken back must say so in both.
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
    env = {**quiet, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp"), "BACKUP_HANDOFF_THRESHOLD_MIB": TINY_MIB}
    with Sandbox(function_env=env) as running:
        # A backup build does nothing until a test runs its command (`_run_build`), which ends it.
        hold_builds(running.stack.refs["RepoBackupProject"])
        yield running


def _backup_deliveries(sandbox: Sandbox) -> list[Any]:
    return [i for i in sandbox.deliveries if i.logical_id == "RepoBackupFunction"]


def _build_environment(sandbox: Sandbox, build_id: str) -> dict[str, str]:
    build = sandbox.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]
    return {v["name"]: v["value"] for v in build["environment"]["environmentVariables"]}


def test_a_large_repository_is_handed_off_once_and_the_build_backs_it_up(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a repository above the (tiny) threshold, pushed to for the first time
    url = sandbox.create_repository("monorepo", "Everything")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    first = dev.commit("first", [])
    dev.set("refs/heads/main", first)
    dev.set("refs/tags/v1", dev.commit("second", [first]))
    dev.push("refs/heads/main", "refs/tags/v1")
    pushed = _show_ref(sandbox.store.path_for("monorepo"))
    # Then the function handed it off instead of backing it up, and said which build took it
    results = [i.result for i in _backup_deliveries(sandbox)]
    assert all(i.ok for i in _backup_deliveries(sandbox)), [i.error for i in _backup_deliveries(sandbox)]
    handed = [r for r in results if r["outcome"] == "handed-off"]
    assert handed and handed[0]["sizeBytes"] > 0
    build_id = handed[0]["buildId"]
    assert not list_backups(_store(sandbox), "backups/", "monorepo").entries
    # When the first event is delivered again (EventBridge duplicates), while the build has not run yet
    first_event = _backup_deliveries(sandbox)[0].event
    again = sandbox.invoke("RepoBackupFunction", first_event)
    # Then it names the same build and no second build was started
    assert again == {"outcome": "handed-off", "buildId": build_id, "sizeBytes": None}
    project = sandbox.stack.refs["RepoBackupProject"]
    assert sandbox.client("codebuild").list_builds_for_project(projectName=project)["ids"] == [build_id]
    # And the build carries the project's settings and the repository, event and lease owner
    variables = _build_environment(sandbox, build_id)
    assert variables["BACKUP_REPOSITORY"] == "monorepo"
    assert variables["BACKUP_EVENT_ID"] == first_event["id"]
    assert variables["BACKUP_LEASE_OWNER"].startswith("codebuild-")
    assert variables["BACKUP_BUCKET"] == sandbox.stack.refs["BackupBucket"]
    assert variables["SHARED_LAYER_ARN"].endswith(":layer:codereflex-SharedLayer:1")
    assert variables["GIT_LAYER_ARN"].endswith(":layer:codereflex-GitLayer:1")

    # When the build's command runs with the environment CodeBuild would give it (the functions' keys
    # standing in for the build role's)
    code, output = _run_build(
        sandbox, build_id, variables=variables, tmp_path=tmp_path, monkeypatch=monkeypatch, capsys=capsys
    )
    # Then it wrote a backup that restores exactly the pushed refs, recorded with the push's event
    assert code == 0
    assert '"outcome": "backed-up"' in output
    manifest = restore(_store(sandbox), "backups/", "monorepo", tmp_path / "restored")
    assert _show_ref(tmp_path / "restored") == pushed
    assert manifest.event_id == first_event["id"]
    assert manifest.metadata["description"] == "Everything"
    # And it released the lease: the next delivery decides afresh (refs unchanged now, nothing to do)
    assert list_backups(_store(sandbox), "backups/", "monorepo").lease is None
    assert sandbox.invoke("RepoBackupFunction", first_event)["outcome"] == "unchanged"


def test_a_known_large_repository_is_handed_off_before_any_fetch(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a repository whose last backup (taken by a build) recorded more bytes than the threshold
    url = sandbox.create_repository("monorepo")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    first = dev.commit("first", [])
    dev.set("refs/heads/main", first)
    dev.push("refs/heads/main")
    build_id = _backup_deliveries(sandbox)[-1].result["buildId"]
    assert (
        _run_build(
            sandbox,
            build_id,
            variables=_build_environment(sandbox, build_id),
            tmp_path=tmp_path,
            monkeypatch=monkeypatch,
            capsys=capsys,
        )[0]
        == 0
    )
    # When the next push arrives
    dev.set("refs/heads/main", dev.commit("second", [first]))
    dev.push("refs/heads/main")
    # Then it is handed off by the recorded size, before fetching anything into the function's /tmp
    last = _backup_deliveries(sandbox)[-1].result
    assert last["outcome"] == "handed-off"
    assert last["buildId"] != build_id
    assert last["sizeBytes"] == sum(link.size for link in _latest_manifest_chain(sandbox))
    mirror = tmp_path / "lambda-tmp" / "mirrors" / "monorepo.git"
    assert not list(mirror.glob("objects/pack/*.pack"))
    assert not [path for path in mirror.glob("objects/??/*") if path.is_file()]


def _run_build(
    sandbox: Sandbox,
    build_id: str,
    *,
    variables: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """The buildspec's build command, in-process, with the build's variables as CodeBuild sets them."""
    env = {
        **variables,
        **sandbox.function_env(),
        "BACKUP_WORK_DIR": str(tmp_path / "build-tmp"),
        "CODEBUILD_BUILD_ID": build_id,
    }
    with monkeypatch.context() as patched:
        for name, value in env.items():
            patched.setenv(name, value)
        capsys.readouterr()
        code = main(["backup", "run", variables["BACKUP_REPOSITORY"]])
    set_build_status(build_id, "SUCCEEDED" if code == 0 else "FAILED")
    return code, capsys.readouterr().out


def _latest_manifest_chain(sandbox: Sandbox) -> Any:
    catalog = list_backups(_store(sandbox), "backups/", "monorepo")
    assert catalog.latest is not None
    return load_manifest(_store(sandbox), catalog.latest.manifest_key).chain


def _store(sandbox: Sandbox) -> S3ObjectStore:
    return S3ObjectStore(sandbox.client("s3"), sandbox.stack.refs["BackupBucket"])


# --- a hand-off that ended without a backup ------------------------------------------------------

CATALOG = "backups/monorepo/catalog.json"


class Killed(Exception):
    """The function's process dies here (a timeout, an out-of-memory kill)."""


def _kill_inside_start_build(
    monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox, *, reach_codebuild: bool
) -> Callable[[], None]:
    """The next StartBuild kills its function: before CodeBuild got the request, or after it started the build.

    Returns what to call once that delivery has failed: a killed process frees nothing, so the
    catalog is put back as the lease write left it (the engine's clean-up after an ordinary
    exception frees the lease, which a dead process never gets to do).
    """
    start_build = CodeBuildProjects.start_build
    left: list[bytes] = []

    def dying(
        self: CodeBuildProjects, project: str, version: str | None, variables: Mapping[str, str], token: str
    ) -> str:
        monkeypatch.setattr(CodeBuildProjects, "start_build", start_build)  # only this run dies
        stored = _store(sandbox).get(CATALOG)
        assert stored is not None
        left.append(stored.data)
        if reach_codebuild:
            start_build(self, project, version, variables, token)
        raise Killed

    def put_back() -> None:
        [data] = left
        _store(sandbox).put(CATALOG, data)

    monkeypatch.setattr(CodeBuildProjects, "start_build", dying)
    return put_back


def _lease(sandbox: Sandbox) -> dict[str, Any]:
    stored = _store(sandbox).get(CATALOG)
    assert stored is not None
    return dict(json.loads(stored.data)["lease"])


def _minutes_pass(sandbox: Sandbox, minutes: int) -> None:
    """Time passes for the stored lease: its times move back (the sandbox's clock cannot move forward)."""
    stored = _store(sandbox).get(CATALOG)
    assert stored is not None
    catalog = json.loads(stored.data)
    for name in ("expires", "handedOffAt"):
        catalog["lease"][name] = (
            datetime.fromisoformat(catalog["lease"][name]) - timedelta(minutes=minutes)
        ).isoformat()
    _store(sandbox).put(CATALOG, json.dumps(catalog).encode())


def _builds(sandbox: Sandbox) -> list[str]:
    project = sandbox.stack.refs["RepoBackupProject"]
    return list(sandbox.client("codebuild").list_builds_for_project(projectName=project)["ids"])


def _taken_back(caplog: pytest.LogCaptureFixture) -> list[tuple[Any, Any, Any]]:
    """The function's warnings that it took a repository back from an ended hand-off."""
    return [
        (getattr(record, "repository", None), getattr(record, "build_id", None), getattr(record, "build_status", None))
        for record in caplog.records
        if record.getMessage() == "Backup lease taken back from a hand-off that ended"
    ]


def _recovered_metrics(capsys: pytest.CaptureFixture[str]) -> list[Any]:
    """HandOffsRecovered values in the EMF blobs the function printed since the last capture."""
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    return [blob["HandOffsRecovered"] for blob in blobs if "HandOffsRecovered" in blob]


def _push_on(
    dev: Pusher, parent: pygit2.Oid, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Any:
    """Push a new commit on `parent` to main, with fresh captures; returns the backup function's answer."""
    capsys.readouterr()
    caplog.clear()
    dev.set("refs/heads/main", dev.commit(f"after {parent}", [parent]))
    dev.push("refs/heads/main")
    return _backup_deliveries(dev.sandbox)[-1].result


def _first_push_dies_in_start_build(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, reach_codebuild: bool
) -> tuple[Pusher, pygit2.Oid]:
    url = sandbox.create_repository("monorepo")
    dev = Pusher(sandbox, tmp_path / "dev.git", url)
    put_back = _kill_inside_start_build(monkeypatch, sandbox, reach_codebuild=reach_codebuild)
    first = dev.commit("first", [])
    dev.set("refs/heads/main", first)
    dev.push("refs/heads/main")
    [died] = _backup_deliveries(sandbox)
    assert isinstance(died.error, Killed)
    put_back()
    lease = _lease(sandbox)
    assert (lease["handedOffTo"], lease["build"]) == ("codebuild", None)
    return dev, first


def test_a_function_killed_before_startbuild_reached_codebuild_is_recovered_by_the_next_run(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a hand-off whose function was killed inside StartBuild before CodeBuild got the request
    dev, first = _first_push_dies_in_start_build(sandbox, tmp_path, monkeypatch, reach_codebuild=False)
    assert _builds(sandbox) == []
    # When the next push comes at once (the killed function's StartBuild could still be under way)
    dev.set("refs/heads/main", second := dev.commit("second", [first]))
    dev.push("refs/heads/main")
    # Then it leaves the lease alone
    assert _backup_deliveries(sandbox)[-1].result == {"outcome": "handed-off", "buildId": None, "sizeBytes": None}
    assert _builds(sandbox) == []
    # When twenty minutes have passed (no function lives that long) and another push comes
    _minutes_pass(sandbox, 20)
    recovered = _push_on(dev, second, capsys, caplog)
    # Then that run found no build for the lease, took it over and handed the repository off again, saying so
    assert recovered["outcome"] == "handed-off"
    assert _builds(sandbox) == [recovered["buildId"]]
    assert _taken_back(caplog) == [("monorepo", None, "MISSING")]
    assert _recovered_metrics(capsys) == [[1.0]]
    # And the new build backs the repository up: the restore equals what was pushed
    _back_up_and_check(sandbox, recovered["buildId"], tmp_path, monkeypatch, capsys)


def test_a_build_started_for_a_killed_function_keeps_the_lease_while_it_runs(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function killed after CodeBuild started the build, before it heard the build's id
    dev, first = _first_push_dies_in_start_build(sandbox, tmp_path, monkeypatch, reach_codebuild=True)
    [build_id] = _builds(sandbox)
    # When the next push comes while that build is queued, long after the function died
    _minutes_pass(sandbox, 20)
    dev.set("refs/heads/main", dev.commit("second", [first]))
    dev.push("refs/heads/main")
    # Then it found the build by its lease owner, names it in the lease and starts no second one
    assert _backup_deliveries(sandbox)[-1].result == {"outcome": "handed-off", "buildId": build_id, "sizeBytes": None}
    assert _builds(sandbox) == [build_id]
    assert _lease(sandbox)["build"] == build_id
    # And the build, when it runs, takes its lease and backs up the current refs
    _back_up_and_check(sandbox, build_id, tmp_path, monkeypatch, capsys)


@pytest.mark.parametrize("status", ["FAILED", "STOPPED", "TIMED_OUT"])
def test_a_build_that_ended_before_taking_the_lease_is_recovered_by_the_next_run(
    sandbox: Sandbox,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    status: str,
) -> None:
    # Given a hand-off whose build ended before it took the lease (the function was killed before it
    # heard the build's id when it failed, else it named the build)
    if status == "FAILED":
        dev, first = _first_push_dies_in_start_build(sandbox, tmp_path, monkeypatch, reach_codebuild=True)
        [ended] = _builds(sandbox)
    else:
        dev = Pusher(sandbox, tmp_path / "dev.git", sandbox.create_repository("monorepo"))
        dev.set("refs/heads/main", first := dev.commit("first", []))
        dev.push("refs/heads/main")
        ended = _backup_deliveries(sandbox)[-1].result["buildId"]
        assert _lease(sandbox)["build"] == ended
    set_build_status(ended, status)
    # When the next push comes, minutes later
    recovered = _push_on(dev, first, capsys, caplog)
    # Then it took the lease back and handed the repository to a new build, saying so
    assert recovered["outcome"] == "handed-off"
    assert recovered["buildId"] != ended
    assert set(_builds(sandbox)) == {ended, recovered["buildId"]}
    assert _taken_back(caplog) == [("monorepo", ended, status)]
    assert _recovered_metrics(capsys) == [[1.0]]
    # And that build backs the repository up: the restore equals what was pushed
    _back_up_and_check(sandbox, recovered["buildId"], tmp_path, monkeypatch, capsys)


def _back_up_and_check(
    sandbox: Sandbox, build_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    variables = _build_environment(sandbox, build_id)
    code, output = _run_build(
        sandbox, build_id, variables=variables, tmp_path=tmp_path, monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0
    assert '"outcome": "backed-up"' in output
    restore(_store(sandbox), "backups/", "monorepo", tmp_path / "restored")
    assert _show_ref(tmp_path / "restored") == _show_ref(sandbox.store.path_for("monorepo"))
    assert list_backups(_store(sandbox), "backups/", "monorepo").lease is None
