"""The project's copy of the real AWS sample events is the team's, to the byte, wherever both are present."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import AWS_SAMPLES, ROOT

SHARED = ROOT.parent / "shared" / "aws-events"


def test_the_copy_has_its_sources_and_samples() -> None:
    assert (AWS_SAMPLES / "SOURCES.md").is_file()
    assert len(list(AWS_SAMPLES.glob("*.json"))) >= 20


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared/aws-events beside this clone (the copy stands alone)")
def test_the_copy_matches_the_shared_samples() -> None:
    # A sample added or corrected in shared/ must be copied here too, verbatim
    ours = {p.name: p.read_bytes() for p in AWS_SAMPLES.iterdir() if p.is_file()}
    theirs = {p.name: p.read_bytes() for p in Path(SHARED).iterdir() if p.is_file()}
    assert sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []
