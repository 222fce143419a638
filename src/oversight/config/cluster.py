"""The optional ``cluster:`` section of a site config: where Ray, the broker and the footage live.

Pure pydantic with no import of Ray, boto3 or psycopg, so the embedded single-machine default
(which never has this section) pays nothing for it. Secrets are never written in the config:
the storage credentials are read from environment variables named here.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Strict):
    """Footage storage. ``local`` is the embedded default (``<data_dir>/recordings``); ``s3`` is any
    S3 API (MinIO, Ceph RGW, AWS). Segments are written to a local spool first, then uploaded."""

    kind: Literal["local", "s3"] = "local"
    endpoint_url: str | None = None  # e.g. http://minio.internal:9000; None: AWS
    bucket: str | None = None
    prefix: str = "recordings"
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"  # names of environment variables, never the secrets
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    spool_dir: str | None = None  # default <data_dir>/spool

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> StorageSettings:
        if self.kind == "s3" and not self.bucket:
            raise ValueError("storage kind 's3' needs a bucket")
        return self

    def credentials(self) -> tuple[str | None, str | None]:
        return os.environ.get(self.access_key_env), os.environ.get(self.secret_key_env)


class DetectorServiceSettings(_Strict):
    """The shared, batched detector: ``replicas`` actors, each batching up to ``max_batch`` frames
    from any camera, waiting at most ``max_wait_ms`` for a batch to fill."""

    enabled: bool = True
    replicas: int = Field(default=1, ge=1, le=1024)
    max_batch: int = Field(default=8, ge=1, le=256)
    max_wait_ms: float = Field(default=10.0, ge=0, le=1000)
    num_gpus: float = Field(default=0.0, ge=0)  # per replica; 0 = CPU
    num_cpus: float = Field(default=1.0, ge=0)


class ClusterConfig(_Strict):
    ray_address: str | None = None  # "auto", "ray://head:10001", or None for a local Ray instance
    broker_url: str = "mqtt://127.0.0.1:1883"  # carries bus messages between processes and nodes
    broker_prefix: str = "oversight/bus"
    storage: StorageSettings = Field(default_factory=StorageSettings)
    camera_cpus: float = Field(default=1.0, ge=0)  # Ray CPU reservation per camera actor
    camera_resource: str | None = "oversight_worker"  # custom resource a node offers to host cameras
    # run by the deployment owner only; 0 = off
    retention_interval_s: float = Field(default=3600.0, ge=0, le=86_400)
    detector: DetectorServiceSettings = Field(default_factory=DetectorServiceSettings)

    @field_validator("broker_url")
    @classmethod
    def _mqtt_url(cls, v: str) -> str:
        if not v.startswith(("mqtt://", "tcp://")):
            raise ValueError("broker_url must be mqtt://host:port")
        return v
