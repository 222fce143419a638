#!/usr/bin/env bash
# Make sure PostgreSQL and Mosquitto answer on loopback (they are normally started before CI).
set -uo pipefail
up() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 1883 && command -v mosquitto >/dev/null; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
for port in 5432 1883; do
  for _ in $(seq 1 20); do up $port && break; sleep 0.5; done
  up $port && echo "service on 127.0.0.1:$port is up" || echo "WARNING: nothing on 127.0.0.1:$port"
done
