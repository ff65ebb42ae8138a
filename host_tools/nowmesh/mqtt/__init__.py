"""MQTT: the one schema (schema), the host bridge (bridge), its outbox; docs/mqtt.md."""
