"""Events: the in-process bus, the event lifecycle store, and MQTT publishing."""
