"""Segment files in S3-compatible object storage (MinIO, Ceph RGW, AWS S3), behind the same
interface as ``LocalStorage`` so the recorder, retention and evidence holds work unchanged.

Why a spool: the muxer (PyAV/FFmpeg) needs a seekable local file, and an object store has no
rename. So a segment is written to ``<spool>/recordings/<camera>/<day>/.<HHMMSS>.mp4.partial`` as
with local disk, and ``commit`` uploads the finished file in one ``PutObject`` (an object is
visible only once completely uploaded, the equivalent of the atomic rename), checks the stored size,
then removes the spool file. A crash before the upload loses at most that one segment, exactly
like a crash before the rename on local disk.

A segment's path in the index is its URI ``s3://<bucket>/<prefix>/<camera>/<day>/<HHMMSS>.mp4``;
``S3Path`` carries it through the recorder, which only needs ``str(path)``. Retention calls
``exists``/``delete`` with that string and so deletes objects under the same rules (evidence holds
included) as it unlinks files.

boto3 is imported lazily: the embedded default never needs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path, PosixPath
from typing import Any

from oversight.recording.storage import PARTIAL_SUFFIX, LocalStorage

log = logging.getLogger(__name__)

SCHEME = "s3://"


class S3Path(PosixPath):
    """An object's location, shaped like a path (``/<bucket>/<key>``) so ``.name``, ``.parent`` and
    ``.stem`` work as on local files, but ``str()`` is the ``s3://bucket/key`` URI stored in the
    index. It is not a local file: ``os`` calls on it fail with FileNotFoundError."""

    def __str__(self) -> str:
        return SCHEME + super().__str__().lstrip("/")

    def __fspath__(self) -> str:
        return str(self)

    @property
    def bucket(self) -> str:
        return self.parts[1]

    @property
    def key(self) -> str:
        return "/".join(self.parts[2:])

    @classmethod
    def from_uri(cls, uri: str) -> S3Path:
        if not uri.startswith(SCHEME):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        return cls("/" + uri[len(SCHEME) :])


def make_s3_client(
    endpoint_url: str | None,
    region: str = "us-east-1",
    access_key: str | None = None,
    secret_key: str | None = None,
) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


class S3Storage(LocalStorage):
    """``LocalStorage``'s interface over a bucket; ``root`` is the local spool for segments being written."""

    def __init__(
        self,
        bucket: str,
        spool_dir: str | Path,
        *,
        prefix: str = "recordings",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        client: Any = None,
    ):
        super().__init__(spool_dir)  # self.root = <spool>/recordings: partial files only
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self._creds = (access_key, secret_key)
        self._client = client
        self._lock = threading.Lock()
        self.uploads = 0

    @classmethod
    def from_settings(cls, settings: Any, data_dir: str | Path) -> S3Storage:
        """From a ``cluster.storage`` section (``oversight.config.cluster.StorageSettings``)."""
        access, secret = settings.credentials()
        spool = settings.spool_dir or Path(data_dir) / "spool"
        return cls(
            settings.bucket,
            spool,
            prefix=settings.prefix,
            endpoint_url=settings.endpoint_url,
            region=settings.region,
            access_key=access,
            secret_key=secret,
        )

    @property
    def client(self) -> Any:
        with self._lock:  # boto3 clients are thread-safe once made; making one is not
            if self._client is None:
                self._client = make_s3_client(self.endpoint_url, self.region, *self._creds)
            return self._client

    def spec(self) -> dict[str, Any]:
        """What another process needs to open the same storage (credentials stay in its environment)."""
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "endpoint_url": self.endpoint_url,
            "region": self.region,
        }

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    # -- paths ------------------------------------------------------------

    def _key(self, camera_id: str, start: datetime, suffix: str = "") -> str:
        t = start.astimezone(UTC)
        return f"{self.prefix}/{camera_id}/{t.strftime('%Y-%m-%d')}/{t.strftime('%H%M%S')}{suffix}.mp4"

    def path_of(self, key: str) -> S3Path:
        return S3Path(f"/{self.bucket}/{key}")

    def _parse(self, path: str | Path) -> S3Path | None:
        s = str(path)
        if not s.startswith(SCHEME):
            return None
        p = S3Path.from_uri(s)
        return p if p.bucket == self.bucket else None

    def new_segment_path(self, camera_id: str, start: datetime) -> Path:
        """A fresh object path for a segment starting at ``start`` (suffixed if the second is taken)."""
        key = self._key(camera_id, start)
        n = 1
        while self._object_size(key) is not None or self.partial_path(self.path_of(key)).exists():
            key = self._key(camera_id, start, f"-{n}")
            n += 1
        return self.path_of(key)

    def partial_path(self, final: Path) -> Path:  # type: ignore[override]  # needs the spool root
        """Where the muxer writes: a hidden file in the local spool mirroring the object key."""
        if isinstance(final, S3Path):
            rel = final.key[len(self.prefix) + 1 :] if final.key.startswith(self.prefix + "/") else final.key
            local = self.root / rel
            local.parent.mkdir(parents=True, exist_ok=True)
            return local.with_name("." + local.name + PARTIAL_SUFFIX)
        return LocalStorage.partial_path(final)

    # -- writing and deleting --------------------------------------------

    def commit(self, partial: Path, final: Path) -> int:
        """Upload the finished file as one object, verify its size, drop the spool copy; returns bytes."""
        if not isinstance(final, S3Path):
            raise ValueError(f"S3Storage cannot commit to a local path: {final}")
        size = partial.stat().st_size
        with open(partial, "rb") as fh:
            self.client.put_object(Bucket=self.bucket, Key=final.key, Body=fh, ContentType="video/mp4")
        stored = self._object_size(final.key)
        if stored != size:
            raise OSError(f"upload of {final} incomplete: {stored} of {size} bytes stored")
        partial.unlink(missing_ok=True)
        self.uploads += 1
        return size

    def delete(self, path: str | Path) -> bool:
        """Delete an object; False if it was already gone. Errors propagate (retention keeps the row)."""
        p = self._parse(path)
        if p is None:
            return super().delete(path)
        if self._object_size(p.key) is None:
            return False
        self.client.delete_object(Bucket=self.bucket, Key=p.key)
        return True

    def exists(self, path: str | Path) -> bool:
        p = self._parse(path)
        if p is None:
            return super().exists(path)
        return self._object_size(p.key) is not None

    def _object_size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    # -- listing ---------------------------------------------------------

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            yield from page.get("Contents", [])

    def segment_files(self, camera_id: str | None = None) -> Iterator[Path]:
        prefix = f"{self.prefix}/{camera_id}/" if camera_id else f"{self.prefix}/"
        for obj in self._objects(prefix):
            key = obj["Key"]
            if key.endswith(".mp4") and not key.rsplit("/", 1)[-1].startswith("."):
                yield self.path_of(key)

    def usage_bytes(self) -> int:
        return sum(int(o["Size"]) for o in self._objects(f"{self.prefix}/") if o["Key"].endswith(".mp4"))

    # -- reading ---------------------------------------------------------

    def url(self, path: str | Path, expires_s: int = 3600) -> str:
        """A presigned GET URL: FFmpeg/PyAV and browsers read the object through it directly."""
        p = self._parse(path)
        if p is None:
            return str(path)
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": p.key}, ExpiresIn=expires_s
            )
        )

    def download(self, path: str | Path, dest: Path) -> Path:
        p = self._parse(path)
        if p is None:
            raise ValueError(f"not an object of bucket {self.bucket}: {path}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, p.key, str(dest))
        return dest


def recover_objects(db: Any, storage: S3Storage, camera_id: str | None = None) -> dict[str, list[str]]:
    """Startup repair for S3 (``recording.index.recover`` for local disk): spool partials left by a
    killed process are deleted; objects uploaded but never indexed (killed between upload and
    insert) are indexed with the start from the key and the length read from the media."""
    from sqlalchemy import select

    from oversight.recording.index import insert_segment, media_duration
    from oversight.store.models import Segment

    out: dict[str, list[str]] = {"partials_removed": [], "orphans_indexed": [], "orphans_removed": []}
    base = storage.camera_dir(camera_id) if camera_id else storage.root
    if base.is_dir():
        for p in base.rglob(f".*{PARTIAL_SUFFIX}"):
            p.unlink(missing_ok=True)
            out["partials_removed"].append(str(p))
    with db.session() as s:
        q = select(Segment.path)
        if camera_id:
            q = q.where(Segment.camera_id == camera_id)
        known = set(s.scalars(q))
    for p in storage.segment_files(camera_id):
        if str(p) in known:
            continue
        start = storage.start_from_path(p)
        tmp = storage.root / ".recover.mp4"
        try:
            dur = media_duration(storage.download(p, tmp))
        finally:
            tmp.unlink(missing_ok=True)
        if start is None or not dur:
            storage.delete(p)
            out["orphans_removed"].append(str(p))
            continue
        size = storage._object_size(S3Path.from_uri(str(p)).key) or 0
        insert_segment(db, p.parent.parent.name, start, start + timedelta(seconds=dur), p, size, False)
        out["orphans_indexed"].append(str(p))
    if any(out.values()):
        log.info("s3 recording recovery: %s", out)
    return out


class SegmentCache:
    """Local copies of S3 segments for code that reads a file path (playback, export, redaction).

    ``local(path)`` returns the path itself for local files, else a cached download; the least
    recently used copies are dropped once the cache holds more than ``max_bytes``. A web server's
    one-line hook: ``path = cache.local(seg.path)`` where it reads ``Path(seg.path)`` today."""

    def __init__(self, storage: S3Storage, cache_dir: str | Path, max_bytes: int = 2 * 1024**3):
        self.storage = storage
        self.dir = Path(cache_dir)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def local(self, path: str | Path) -> Path:
        p = self.storage._parse(path)
        if p is None:
            return Path(path)
        dest = self.dir / p.key
        with self._lock:
            if not dest.is_file():
                tmp = dest.with_name("." + dest.name + ".part")
                self.storage.download(p, tmp)
                tmp.replace(dest)
            dest.touch()  # recently used
            self._evict(keep=dest)
        return dest

    def _evict(self, keep: Path) -> None:
        files = sorted((f for f in self.dir.rglob("*.mp4") if f.is_file()), key=lambda f: f.stat().st_mtime)
        total = sum(f.stat().st_size for f in files)
        for f in files:
            if total <= self.max_bytes:
                break
            if f != keep:
                total -= f.stat().st_size
                f.unlink(missing_ok=True)
