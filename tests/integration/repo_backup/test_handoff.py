"""Hand-off to CodeBuild: a repository above the threshold starts one build, and the build's command backs it up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codereflex.aws.s3 import S3ObjectStore
from codereflex.backup.engine import list_backups, load_manifest, restore
from codereflex.cli.main import main
from sandbox.local import Sandbox
from tests.integration.repo_backup.test_app import Pusher, _show_ref

# A few bytes: any first fetch passes it, so the function aborts it and hands the repository off.
TINY_MIB = "0.00001"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    quiet = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
    env = {**quiet, "BACKUP_WORK_DIR": str(tmp_path / "lambda-tmp"), "BACKUP_HANDOFF_THRESHOLD_MIB": TINY_MIB}
    with Sandbox(function_env=env) as running:
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
    return code, capsys.readouterr().out


def _latest_manifest_chain(sandbox: Sandbox) -> Any:
    catalog = list_backups(_store(sandbox), "backups/", "monorepo")
    assert catalog.latest is not None
    return load_manifest(_store(sandbox), catalog.latest.manifest_key).chain


def _store(sandbox: Sandbox) -> S3ObjectStore:
    return S3ObjectStore(sandbox.client("s3"), sandbox.stack.refs["BackupBucket"])
