# The gateway's connection to the MQTT broker (umqtt.simple from
# micropython-lib): connect with a last will on the bridge's availability
# topic, publish the outbox in order, and after any failure wait a doubling
# back-off (1 s ... 60 s) before trying again. Nothing the broker or the
# network does raises out of step(): a failure is counted and the link waits.
#
# step() does a bounded amount of work and returns, so the node's main loop
# (or its own task) calls it as often as it likes; the mesh never waits on
# the broker for longer than one socket operation.
import time

BACKOFF_FIRST_MS = 1000
BACKOFF_MAX_MS = 60000
PUBLISH_PER_STEP = 8        # outbox messages sent per step()
ONLINE, OFFLINE = b"online", b"offline"


def parse_url(url):
    """mqtt://[user:pass@]host[:port] -> (host, port, user, password, tls)."""
    scheme, rest = url.split("://", 1)
    tls = scheme == "mqtts"
    user = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, _, password = auth.partition(":")
    host, _, port = rest.partition(":")
    return host, int(port) if port else (8883 if tls else 1883), user, password or None, tls


class Link:
    """`client_factory(client_id, host, port, user, password, ssl)` makes the
    MQTT client (umqtt.simple.MQTTClient by default); `will_topic` gets
    `offline` (retained) from the broker when the gateway vanishes."""

    def __init__(self, url, client_id, outbox, will_topic, client_factory=None, now_ms=None):
        self.host, self.port, self.user, self.password, self.tls = parse_url(url)
        self.client_id = client_id
        self.outbox = outbox
        self.will_topic = will_topic
        self._factory = client_factory or _umqtt_client
        self._now = now_ms or time.ticks_ms
        self.client = None
        self.backoff_ms = 0
        self._retry_at = None
        self.failures = 0           # connects or publishes that failed
        self.published = 0

    def connected(self):
        return self.client is not None

    def step(self):
        """Connect if due, then publish up to PUBLISH_PER_STEP queued messages."""
        if self.client is None and not self._due():
            return
        try:
            if self.client is None:
                self._connect()
            for _ in range(PUBLISH_PER_STEP):
                item = self.outbox.peek()
                if item is None:
                    break
                topic, payload, retain = item
                self.client.publish(topic.encode(), payload.encode(), retain, 1)
                self.outbox.done()
                self.published += 1
        except Exception:       # a broker or network failure of any kind: back off
            self._lost()

    def _due(self):
        return self._retry_at is None or time.ticks_diff(self._now(), self._retry_at) >= 0

    def _connect(self):
        client = self._factory(self.client_id, self.host, self.port, self.user, self.password, self.tls)
        client.set_last_will(self.will_topic.encode(), OFFLINE, True, 1)
        client.connect()
        self.client = client
        self.backoff_ms = 0
        self._retry_at = None
        client.publish(self.will_topic.encode(), ONLINE, True, 1)

    def _lost(self):
        self.failures += 1
        if self.client is not None:
            try:
                self.client.sock.close()
            except Exception:
                pass
        self.client = None
        self.backoff_ms = min(BACKOFF_MAX_MS, self.backoff_ms * 2 or BACKOFF_FIRST_MS)
        self._retry_at = time.ticks_add(self._now(), self.backoff_ms)

    def close(self):
        """Leave cleanly: `offline` now, not at the will's keepalive timeout."""
        if self.client is not None:
            try:
                self.client.publish(self.will_topic.encode(), OFFLINE, True, 1)
                self.client.disconnect()
            except Exception:
                pass
            self.client = None


def _umqtt_client(client_id, host, port, user, password, tls):
    from umqtt.simple import MQTTClient
    return MQTTClient(client_id, host, port, user, password, keepalive=60, ssl=tls)
