"""The monitoring-center web app and REST/WebSocket API."""
