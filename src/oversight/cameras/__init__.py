"""Cameras: opening RTSP/HTTP/file streams, reading packets and frames, reconnecting with backoff."""
