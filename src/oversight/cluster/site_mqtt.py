"""The site's MQTT integration (``site.mqtt``) in a cluster: events are raised on camera nodes,
so one process (the deployment owner) takes them from the broker bridge and publishes each once
to ``<topic_prefix>/<camera>/events``, exactly as the single-machine ``Service`` does."""

from __future__ import annotations

from collections.abc import Callable

from oversight.config.cluster import ClusterConfig
from oversight.config.schema import SiteConfig
from oversight.events.bridge import BusBridge
from oversight.events.bus import EventBus
from oversight.events.mqtt import MqttPublisher


def start_site_mqtt(cfg: SiteConfig, wait: float | None = None) -> Callable[[], None] | None:
    """Start the bridge-fed publisher; returns its stop function, or None when MQTT is not configured."""
    if cfg.site.mqtt is None:
        return None
    cc = cfg.cluster or ClusterConfig()
    bus = EventBus()
    publisher = MqttPublisher(cfg.site.mqtt, bus).start()
    bridge = BusBridge(bus, cc.broker_url, cc.broker_prefix, topics=("event",)).start(wait=wait)

    def stop() -> None:
        bridge.stop()
        publisher.stop()

    return stop
