"""The S3 store's uploads: one request for a small file, multipart for a large one, encrypted either way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest

from codereflex.aws.s3 import SINGLE_PUT_BYTES, S3ObjectStore

BUCKET = "codereflex-store-test"


@pytest.fixture
def aws() -> Iterator[tuple[Any, str]]:
    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
        yield s3, key_id


@pytest.mark.parametrize("size", [5_000, SINGLE_PUT_BYTES + 1], ids=["small", "over-the-multipart-threshold"])
def test_an_upload_arrives_whole_encrypted_with_the_key_and_reports_its_progress(
    aws: tuple[Any, str], tmp_path: Path, size: int
) -> None:
    s3, key_id = aws
    requests: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: requests.append(model.name))
    body = os.urandom(size)
    (tmp_path / "pack.bundle").write_bytes(body)
    progress: list[int] = []
    # When a bundle is uploaded
    S3ObjectStore(s3, BUCKET, key_id).upload("backups/r/pack.bundle", tmp_path / "pack.bundle", progress.append)
    uploading = list(requests)
    # Then S3 holds exactly its bytes, under SSE-KMS with the stack's key, and progress adds up
    stored = s3.get_object(Bucket=BUCKET, Key="backups/r/pack.bundle")
    assert stored["Body"].read() == body
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert key_id in stored["SSEKMSKeyId"]
    assert sum(progress) == size
    # And a small one took one request, a large one went multipart (it never has to fit in memory)
    if size < SINGLE_PUT_BYTES:
        assert uploading == ["PutObject"]
    else:
        assert "CreateMultipartUpload" in uploading
        assert uploading.count("UploadPart") >= 2
