"""S3-compatible footage storage against a real S3 HTTP API (moto's server on loopback):
segments recorded by the real camera worker land in the bucket and are indexed by URI; retention
and evidence holds behave exactly as on local disk; crash leftovers are repaired."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cluster_helpers import moto_s3
from conftest import asset
from oversight.cameras.worker import CameraWorker
from oversight.config.schema import CameraConfig, SiteConfig
from oversight.events.bus import EventBus
from oversight.recording.index import media_duration
from oversight.recording.retention import run_retention
from oversight.recording.storage import LocalStorage
from oversight.store.db import Database
from oversight.store.models import EvidenceHold, Segment

pytestmark = pytest.mark.cluster
boto3 = pytest.importorskip("boto3")
s3mod = pytest.importorskip("oversight.recording.s3")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def make_s3(endpoint: str, spool: Path, bucket: str = "footage") -> s3mod.S3Storage:
    st = s3mod.S3Storage(bucket, spool, endpoint_url=endpoint, access_key="testing", secret_key="testing")
    st.ensure_bucket()
    return st


def camera(segment_seconds: float = 2.0) -> CameraConfig:
    clip = asset("video/one-by-one-person-detection.mp4")  # H.264, 1 s GOP
    return CameraConfig.model_validate(
        {
            "id": "cam1",
            "purpose": "s3 storage test",
            "streams": {"record": str(clip)},
            "realtime": False,
            "detect": {"enabled": False},
            "record": {"segment_seconds": segment_seconds},
        }
    )


def record_clip(db: Database, storage: LocalStorage) -> list[dict]:
    bus = EventBus()
    published: list[dict] = []
    bus.subscribe("segment", lambda m: published.append(m.data))
    w = CameraWorker(camera(), db, bus, storage)
    w.start()
    deadline = time.monotonic() + 120
    while w.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    w.stop()
    assert w.status()["state"] in ("ended", "stopped")
    return published


def test_recorded_segments_are_objects_indexed_by_uri(db: Database, tmp_path: Path, s3_endpoint: str):
    storage = make_s3(s3_endpoint, tmp_path / "spool", bucket="rec1")
    published = record_clip(db, storage)
    with db.session() as s:
        rows = list(s.scalars(select(Segment).order_by(Segment.start)))
    assert len(rows) >= 20  # 139 s clip, 2 s segments
    assert [p["id"] for p in published] == [r.id for r in rows]
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    listed = {o["Key"]: o["Size"] for o in client.list_objects_v2(Bucket="rec1")["Contents"]}
    for r in rows:
        assert r.path.startswith("s3://rec1/recordings/cam1/")
        key = r.path.split("/", 3)[3]
        assert listed[key] == r.bytes  # every row points at a complete object
    assert len(listed) == len(rows)
    # consecutive segments are contiguous and the footage adds up to the clip
    for a, b in zip(rows, rows[1:], strict=False):
        assert a.end == b.start
    one = storage.download(rows[3].path, tmp_path / "check.mp4")
    assert 1.5 <= (media_duration(one) or 0) <= 6.5
    # nothing is left in the spool: every finished segment was uploaded and its spool copy removed
    assert [p for p in (tmp_path / "spool").rglob("*") if p.is_file()] == []
    assert storage.usage_bytes() == sum(r.bytes for r in rows)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_retention_and_evidence_holds_same_on_both(db: Database, tmp_path: Path, s3_endpoint: str, kind: str):
    storage = (
        make_s3(s3_endpoint, tmp_path / "spool", bucket=f"ret-{kind}")
        if kind == "s3"
        else LocalStorage(tmp_path)
    )
    record_clip(db, storage)
    with db.session() as s:
        rows = list(s.scalars(select(Segment).order_by(Segment.start)))
    now = datetime.now(UTC)
    # age the first half of the footage past the 7-day retention; hold one aged segment as evidence
    old = rows[: len(rows) // 2]
    shift = timedelta(days=10)
    with db.session() as s:
        for r in old:
            aged = {"start": r.start - shift, "end": r.end - shift}
            s.execute(update(Segment).where(Segment.id == r.id).values(**aged))
        held = old[2]
        s.add(
            EvidenceHold(
                camera_id="cam1",
                start=held.start - shift,
                end=held.end - shift,
                reason="case 12",
                created_by="test",
            )
        )
    cfg = SiteConfig.model_validate({"cameras": [camera().model_dump()]})
    res = run_retention(db, cfg, now, storage)
    assert res.errors == []
    assert res.held == 1
    assert sorted(res.deleted) == sorted(r.id for r in old if r.id != held.id)
    with db.session() as s:
        left = {r.id: r.path for r in s.scalars(select(Segment))}
    assert set(left) == {r.id for r in rows} - set(res.deleted)
    for r in rows:  # objects/files exist exactly for the rows that are left
        assert storage.exists(r.path) == (r.id in left)
    # releasing the hold lets retention delete that footage too
    with db.session() as s:
        s.execute(update(EvidenceHold).values(released_at=now, released_by="test"))
    res2 = run_retention(db, cfg, now, storage)
    assert res2.deleted == [held.id]
    assert not storage.exists(held.path)


def test_recovery_indexes_uploaded_orphans_and_drops_spool_partials(
    db: Database, tmp_path: Path, s3_endpoint: str
):
    storage = make_s3(s3_endpoint, tmp_path / "spool", bucket="rec3")
    record_clip(db, storage)
    with db.session() as s:
        rows = list(s.scalars(select(Segment).order_by(Segment.start)))
        victim = rows[5]
        # as if killed between the upload and the row insert
        s.execute(Segment.__table__.delete().where(Segment.id == victim.id))
    partial = storage.camera_dir("cam1") / "2026-01-01" / ".000000.mp4.partial"  # killed while writing
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\x00" * 100)
    junk = storage.path_of("recordings/cam1/2026-01-01/010101.mp4")  # an unreadable object
    storage.client.put_object(Bucket="rec3", Key=junk.key, Body=b"not a video")
    out = s3mod.recover_objects(db, storage, "cam1")
    assert out["partials_removed"] == [str(partial)] and not partial.exists()
    assert out["orphans_indexed"] == [victim.path]
    assert out["orphans_removed"] == [str(junk)] and not storage.exists(junk)
    with db.session() as s:
        again = s.scalars(select(Segment).where(Segment.path == victim.path)).one()
    assert again.start == victim.start.replace(microsecond=0)  # from the key (whole seconds)
    assert abs((again.end - again.start).total_seconds() - (victim.end - victim.start).total_seconds()) < 0.5


def test_upload_failure_keeps_index_true(db: Database, tmp_path: Path, s3_endpoint: str):
    """A bucket that is gone: the recorder reports the error and indexes nothing it could not store."""
    storage = s3mod.S3Storage(
        "no-such-bucket",
        tmp_path / "spool",
        endpoint_url=s3_endpoint,
        access_key="testing",
        secret_key="testing",
    )
    bus = EventBus()
    w = CameraWorker(camera(), db, bus, storage)
    w.start()
    deadline = time.monotonic() + 60
    while w.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    w.stop()
    assert "segment write failed" in (w.recorder.error or "")
    with db.session() as s:
        assert s.scalars(select(Segment)).first() is None


def test_segment_cache_gives_playable_local_copies_within_its_budget(
    db: Database, tmp_path: Path, s3_endpoint: str
):
    storage = make_s3(s3_endpoint, tmp_path / "spool", bucket="rec5")
    record_clip(db, storage)
    with db.session() as s:
        rows = list(s.scalars(select(Segment).order_by(Segment.start)))[:6]
    budget = sum(r.bytes for r in rows[:3])
    cache = s3mod.SegmentCache(storage, tmp_path / "cache", max_bytes=budget)
    copies = [cache.local(r.path) for r in rows]
    for r, c in zip(rows, copies, strict=True):
        assert c.name == r.path.rsplit("/", 1)[1]
    assert media_duration(copies[-1])  # a real, playable file
    kept = [c for c in copies if c.exists()]
    assert copies[-1] in kept and sum(c.stat().st_size for c in kept) <= budget
    assert cache.local(str(tmp_path / "x.mp4")) == tmp_path / "x.mp4"  # local paths pass through


def test_web_playback_reads_segments_from_the_bucket(db: Database, tmp_path: Path, s3_endpoint: str):
    """A stateless web server plays footage stored only in S3, redacted, through its segment cache."""
    from web_support import client, make_ctx, tokens

    storage = make_s3(s3_endpoint, tmp_path / "spool", bucket="rec6")
    record_clip(db, storage)
    with db.session() as s:
        seg = s.scalars(select(Segment).order_by(Segment.start)).first()
        assert seg is not None and seg.path.startswith("s3://")
        seg.camera_id = "cam0"  # a camera of the web test site
    (tmp_path / "web").mkdir()
    ctx = make_ctx(db, tmp_path / "web", runtime=False)
    auth = {"Authorization": f"Bearer {tokens(db, ('operator',))['operator']}"}
    c = client(ctx)
    assert c.get(f"/api/segments/{seg.id}/video.mp4", headers=auth).status_code == 410  # no cache: not local
    ctx.extras["segment_cache"] = s3mod.SegmentCache(storage, tmp_path / "cache")
    r = c.get(f"/api/segments/{seg.id}/video.mp4", headers=auth)
    assert r.status_code == 200 and r.content[4:8] == b"ftyp", r.text[:200]
