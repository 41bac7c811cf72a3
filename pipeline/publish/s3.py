"""The S3 backend of the store: the one module that imports boto3.

Credentials come only from boto3's standard chain (environment, shared files, instance
roles), never from the configuration, and are never printed. Objects carry a SHA-256
checksum (``ChecksumAlgorithm='SHA256'``), so corruption in transit is rejected by S3,
and their sha256 in metadata (``x-amz-meta-sha256``). Transient errors are retried by
botocore (``standard`` retry mode); every call has connect and read timeouts.
"""

from __future__ import annotations

from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import StoreError
from .store import Put

MULTIPART_THRESHOLD = 64 * 1024 * 1024


class S3Store:
    """A store under ``s3://bucket/prefix``."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str = "", region: str = "",
                 addressing_style: str = "", acl: str = "", timeout_s: float = 60.0) -> None:
        self.bucket, self.prefix, self.acl = bucket, prefix.strip("/"), acl
        cfg = BotoConfig(connect_timeout=min(10.0, timeout_s), read_timeout=timeout_s,
                         retries={"mode": "standard", "max_attempts": 5},
                         s3={"addressing_style": addressing_style} if addressing_style else None,
                         request_checksum_calculation="when_required",
                         response_checksum_validation="when_required")
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=cfg)
        self.transfer = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD,
                                       multipart_chunksize=16 * 1024 * 1024, max_concurrency=4)
        self.endpoint = endpoint_url

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, what: str, exc: Exception) -> StoreError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        return StoreError(f"S3 {what} failed{f' ({code})' if code else ''}: {type(exc).__name__}",
                          path=f"s3://{self.bucket}/{self.prefix}",
                          fix="check the endpoint, bucket and credentials (boto3 standard chain)")

    def put(self, obj: Put) -> None:
        extra: dict[str, Any] = {"ContentType": obj.content_type, "CacheControl": obj.cache_control,
                                 "Metadata": {"sha256": obj.sha256}, "ChecksumAlgorithm": "SHA256"}
        if self.acl:
            extra["ACL"] = self.acl
        try:
            if obj.path is not None and obj.size >= MULTIPART_THRESHOLD:
                self.client.upload_file(str(obj.path), self.bucket, self._key(obj.key),
                                        ExtraArgs=extra, Config=self.transfer)
            else:
                self.client.put_object(Bucket=self.bucket, Key=self._key(obj.key), Body=obj.body(), **extra)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"upload of {obj.key}", exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"download of {key}", exc) from exc

    def listing(self) -> dict[str, int]:
        out = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
            for page in pages:
                for o in page.get("Contents", []):
                    key = o["Key"][len(self.prefix) + 1:] if self.prefix else o["Key"]
                    out[key] = o["Size"]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("listing", exc) from exc
        return out

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"delete of {key}", exc) from exc

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"
