"""The S3 backend of the store: the one module that imports boto3.

Credentials come only from boto3's standard chain (environment, shared files, instance
roles), never from the configuration, and are never printed: error messages carry the
operation, the key and the service's error code, nothing from the request.

Integrity: a single-part upload carries the object's SHA-256, taken when the object was
collected, as ``x-amz-checksum-sha256`` (``checksum = "sha256"``), so S3 rejects bytes
that changed on disk or in transit; ``Content-MD5`` travels with it, because many
S3-compatible services check only that one (rclone ``serve s3`` ignores the SHA-256 and
rejects a wrong MD5 with BadDigest); ``checksum = "md5"`` sends only ``Content-MD5``, for
services that reject flexible checksums. An upload rejected as corrupted is sent again
(up to ``CORRUPTION_ATTEMPTS`` times in all). Files of at least
``multipart_threshold`` bytes go up in parts, each with its own SHA-256 (a composite
checksum: S3 offers no full-object SHA-256 for multipart uploads). Every object also
carries its sha256 as ``x-amz-meta-sha256``, read back by :meth:`S3Store.head`.

Faults: botocore retries transient errors (connection resets, timeouts, 500/502/503/504,
throttling) with exponential backoff and jitter (``retry_mode``, ``max_attempts``);
every call has connect and read timeouts.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ..errors import StoreError
from .store import Put, Stat

MiB = 1024 * 1024
#: uploads the service rejected as corrupted in transit are sent again this often in all
CORRUPTION_ATTEMPTS = 3
_CORRUPTED = ("BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch")

_FIXES = {
    "NoSuchBucket": "create the bucket or correct [publish] target",
    "AccessDenied": "give the credentials s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject "
                    "on the bucket",
    "InvalidAccessKeyId": "check the credentials in boto3's standard chain (AWS_ACCESS_KEY_ID, AWS_PROFILE)",
    "SignatureDoesNotMatch": "check the credentials in boto3's standard chain and [publish] region",
    "PermanentRedirect": "set [publish] region to the bucket's region",
    "AuthorizationHeaderMalformed": "set [publish] region to the bucket's region",
    "BadDigest": "the bytes were corrupted on the way; publish again",
    "XAmzContentSHA256Mismatch": "the bytes were corrupted on the way; publish again",
    "InvalidArgument": "the service may not support SHA-256 checksums: set [publish] checksum = \"md5\"",
    "AccessControlListNotSupported": "the bucket disables ACLs: set [publish] acl = \"\" and use a bucket policy",
}


def _b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode("ascii")


class S3Store:
    """A store under ``s3://bucket/prefix``.

    Args:
        bucket, prefix: where the store root is.
        endpoint_url: an S3-compatible service (MinIO, Ceph RGW, Aliyun OSS, Tencent COS);
            empty for AWS.
        region: the signing region; empty for boto3's default chain.
        addressing_style: ``path``, ``virtual`` or ``auto`` (empty: boto3's default).
        acl: fallback canned ACL when a :class:`Put` has none (normally empty).
        timeout_s: read timeout of one request (seconds); connect timeout min(10, this).
        checksum: ``sha256``, ``md5`` or ``none`` (see the module docstring).
        retry_mode, max_attempts: botocore's retry settings.
        multipart_threshold, multipart_chunk: bytes.
    """

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str = "", region: str = "",
                 addressing_style: str = "", acl: str = "", timeout_s: float = 60.0,
                 checksum: str = "sha256", retry_mode: str = "standard", max_attempts: int = 5,
                 multipart_threshold: int = 64 * MiB, multipart_chunk: int = 16 * MiB,
                 max_pool_connections: int = 10) -> None:
        self.bucket, self.prefix, self.acl, self.checksum = bucket, prefix.strip("/"), acl, checksum
        cfg = BotoConfig(connect_timeout=min(10.0, timeout_s), read_timeout=timeout_s,
                         retries={"mode": retry_mode, "max_attempts": max_attempts},
                         s3={"addressing_style": addressing_style} if addressing_style else None,
                         max_pool_connections=max_pool_connections,
                         request_checksum_calculation="when_required",
                         response_checksum_validation="when_required")
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=cfg)
        self.threshold = multipart_threshold
        self.transfer = TransferConfig(multipart_threshold=multipart_threshold,
                                       multipart_chunksize=multipart_chunk, max_concurrency=4,
                                       num_download_attempts=max_attempts)
        self.endpoint = endpoint_url

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, what: str, exc: Exception) -> StoreError:
        if isinstance(exc, NoCredentialsError):
            return StoreError(f"S3 {what} failed: no credentials found", path=self.describe(),
                              fix="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with "
                                  "~/.aws/credentials (boto3's standard chain; never in dangke.toml)")
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, ClientError) \
            else None
        detail = f"{code or 'error'} (HTTP {status})" if code or status else type(exc).__name__
        fix = _FIXES.get(code, "check the network and the endpoint, then publish again: what made it "
                               "is not sent twice")
        return StoreError(f"S3 {what} failed: {detail}", path=self.describe(), fix=fix)

    def put(self, obj: Put) -> str:
        """Upload one object; returns its ETag. Raises StoreError."""
        extra: dict[str, Any] = {"ContentType": obj.content_type, "CacheControl": obj.cache_control,
                                 "Metadata": {"sha256": obj.sha256}}
        if obj.acl or self.acl:
            extra["ACL"] = obj.acl or self.acl
        key = self._key(obj.key)
        try:
            if obj.path is not None and obj.size >= self.threshold:
                if self.checksum == "sha256":
                    extra["ChecksumAlgorithm"] = "SHA256"
                self.client.upload_file(str(obj.path), self.bucket, key, ExtraArgs=extra, Config=self.transfer)
                head = self.client.head_object(Bucket=self.bucket, Key=key)
                if head["ContentLength"] != obj.size or head.get("Metadata", {}).get("sha256") != obj.sha256:
                    raise StoreError(f"{obj.key}: the store holds {head['ContentLength']} bytes after the "
                                     f"multipart upload, expected {obj.size}", path=self.describe(),
                                     fix="publish again")
                return head["ETag"].strip('"')
            if self.checksum == "sha256":
                extra["ChecksumSHA256"] = _b64(obj.sha256)
            if self.checksum in ("sha256", "md5"):
                extra["ContentMD5"] = _b64(obj.md5())
            for attempt in range(1, CORRUPTION_ATTEMPTS + 1):
                try:
                    return self._put_once(obj, key, extra)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") not in _CORRUPTED or attempt == CORRUPTION_ATTEMPTS:
                        raise
            raise AssertionError("unreachable")
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"upload of {obj.key}", exc) from exc
        except OSError as exc:
            raise StoreError(f"cannot read {obj.path}: {exc.strerror or exc}", path=obj.path,
                             fix="the library file is missing or unreadable; run `dangke encode`") from exc

    def _put_once(self, obj: Put, key: str, extra: dict[str, Any]) -> str:
        if obj.data is not None:
            resp = self.client.put_object(Bucket=self.bucket, Key=key, Body=obj.data, **extra)
        else:
            assert obj.path is not None
            with open(obj.path, "rb") as body:
                resp = self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentLength=obj.size,
                                              **extra)
        return resp.get("ETag", "").strip('"')

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"download of {key}", exc) from exc

    def download(self, key: str, dest: str) -> None:
        """Stream object ``key`` into the local file ``dest`` (in parts for large
        objects; the caller verifies its sha256). Raises StoreError."""
        try:
            self.client.download_file(self.bucket, self._key(key), dest, Config=self.transfer)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(f"download of {key}", exc) from exc

    def head(self, key: str) -> Stat | None:
        try:
            r = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise self._fail(f"HEAD of {key}", exc) from exc
        except BotoCoreError as exc:
            raise self._fail(f"HEAD of {key}", exc) from exc
        return Stat(r["ContentLength"], r["ETag"].strip('"'), r.get("Metadata", {}).get("sha256", ""))

    def listing(self) -> dict[str, Stat]:
        out = {}
        cut = len(self.prefix) + 1 if self.prefix else 0
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
            for page in pages:
                for o in page.get("Contents", []):
                    out[o["Key"][cut:]] = Stat(o["Size"], o.get("ETag", "").strip('"'))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("listing", exc) from exc
        return out

    def delete_many(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            try:
                r = self.client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": self._key(k)} for k in batch], "Quiet": True})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NotImplemented", "InvalidArgument",
                                                                    "MissingContentMD5"):
                    raise self._fail("delete", exc) from exc
                self._delete_one_by_one(batch)
                continue
            except BotoCoreError as exc:
                raise self._fail("delete", exc) from exc
            errors = r.get("Errors", [])
            if errors:
                raise StoreError(f"S3 delete failed for {len(errors)} object(s), e.g. {errors[0].get('Key')}: "
                                 f"{errors[0].get('Code')}", path=self.describe(),
                                 fix="give the credentials s3:DeleteObject, then publish again")

    def _delete_one_by_one(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
            except (BotoCoreError, ClientError) as exc:
                raise self._fail(f"delete of {key}", exc) from exc

    def clean_partials(self) -> int:
        """Abort the incomplete multipart uploads under the prefix (an interrupted publish)."""
        n = 0
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
            for page in pages:
                for u in page.get("Uploads", []) or []:
                    try:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=u["Key"], UploadId=u["UploadId"])
                        n += 1
                    except ClientError as exc:
                        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                            raise
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NotImplemented":
                return 0
            raise self._fail("cleaning interrupted uploads", exc) from exc
        except BotoCoreError as exc:
            raise self._fail("cleaning interrupted uploads", exc) from exc
        return n

    def describe(self) -> str:
        endpoint = urlsplit(self.endpoint)
        if endpoint.username or endpoint.password:  # never show user:password@ of an endpoint
            endpoint = endpoint._replace(netloc=endpoint.hostname + (f":{endpoint.port}" if endpoint.port else ""))
        where = f" at {urlunsplit(endpoint)}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"
