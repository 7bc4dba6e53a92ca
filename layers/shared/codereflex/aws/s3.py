"""S3: the backup store and the validation reports, with conditional writes (If-Match / If-None-Match) and SSE-KMS."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from codereflex.aws.errors import error_code, translate
from codereflex.backup.store import PreconditionFailed, Progress, Stored

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict"}
_MISSING = {"NoSuchKey", "404", "NotFound"}
# Below upload_file's multipart threshold (8 MiB), an upload is one request either way.
SINGLE_PUT_BYTES = 8 * 1024 * 1024


class S3ObjectStore:
    """One bucket; `kms_key_id` (when set) encrypts every object with that key."""

    def __init__(self, client: S3Client, bucket: str, kms_key_id: str | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._encryption: dict[str, Any] = (
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
        )

    def get(self, key: str) -> Stored | None:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise translate(error, f"s3 GetObject {key}") from error
        return Stored(response["Body"].read(), response["ETag"])

    def put(
        self,
        key: str,
        data: bytes,
        *,
        if_match: str | None = None,
        if_absent: bool = False,
        content_type: str | None = None,
    ) -> str:
        options: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if if_match is not None:
            options["IfMatch"] = if_match
        if if_absent:
            options["IfNoneMatch"] = "*"
        try:
            response = self._client.put_object(Bucket=self._bucket, Key=key, Body=data, **options, **self._encryption)
        except ClientError as error:
            if error_code(error) in _CONFLICT or (if_match is not None and error_code(error) in _MISSING):
                raise PreconditionFailed(f"s3 PutObject {key}: {error_code(error)}") from error
            raise translate(error, f"s3 PutObject {key}") from error
        return response["ETag"]

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        # Conditional deletes (If-Match) work on general purpose buckets since September 2025.
        conditions: dict[str, Any] = {"IfMatch": if_match} if if_match is not None else {}
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key, **conditions)
        except ClientError as error:
            if if_match is not None and (error_code(error) in _CONFLICT or error_code(error) in _MISSING):
                raise PreconditionFailed(f"s3 DeleteObject {key}: {error_code(error)}") from error
            raise translate(error, f"s3 DeleteObject {key}") from error

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
                found += [item["Key"] for item in page.get("Contents", [])]
        except ClientError as error:
            raise translate(error, f"s3 ListObjectsV2 {prefix}") from error
        return found

    def upload(self, key: str, path: Path, progress: Progress | None = None) -> None:
        size = path.stat().st_size
        if size < SINGLE_PUT_BYTES:
            # One PutObject: upload_file would start (and stop) a thread pool for a one-part upload,
            # several times the request itself for the small bundles most pushes make.
            with path.open("rb") as body:
                try:
                    self._client.put_object(Bucket=self._bucket, Key=key, Body=body, **self._encryption)
                except ClientError as error:
                    raise translate(error, f"s3 PutObject {key}") from error
            if progress is not None:
                progress(size)
            return
        # upload_file streams and goes multipart above 8 MB, so a pack never has to fit in memory.
        try:
            self._client.upload_file(
                str(path), self._bucket, key, ExtraArgs=dict(self._encryption) or None, Callback=progress
            )
        except ClientError as error:
            raise translate(error, f"s3 upload {key}") from error
        except Exception as error:  # S3UploadFailedError wraps the ClientError
            cause = error.__cause__ or error.__context__
            if isinstance(cause, ClientError):
                raise translate(cause, f"s3 upload {key}") from error
            raise

    def download(self, key: str, path: Path, progress: Progress | None = None) -> None:
        try:
            self._client.download_file(self._bucket, key, str(path), Callback=progress)
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise translate(error, f"s3 download {key}", gone=frozenset(_MISSING)) from error
            raise translate(error, f"s3 download {key}") from error


class ReportObjects:
    """Whole small objects of the validation bucket (codereflex.validation.publish.ReportStore)."""

    def __init__(self, store: S3ObjectStore) -> None:
        self._store = store

    def get_bytes(self, key: str) -> bytes | None:
        stored = self._store.get(key)
        return None if stored is None else stored.data

    def put_bytes(self, key: str, data: bytes, content_type: str, *, if_absent: bool = False) -> bool:
        try:
            self._store.put(key, data, if_absent=if_absent, content_type=content_type)
        except PreconditionFailed:
            return False  # only with if_absent: the key exists (or a concurrent write of it won)
        return True
