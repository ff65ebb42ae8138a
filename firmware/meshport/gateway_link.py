# The gateway's connection to the MQTT broker (umqtt.simple from
# micropython-lib): connect with a last will on the bridge's availability
# topic, publish the outbox in order, and after any failure wait a doubling
# back-off (1 s ... 60 s) before trying again. Nothing the broker or the
# network does raises out of step(): a failure is counted and the link waits.
#
# step() does a bounded amount of work and returns, so the node's main loop
# (or its own task) calls it as often as it likes. Every socket operation has
# a timeout (SOCKET_TIMEOUT_S): umqtt.simple makes blocking sockets and even
# turns a timeout back into "block forever" (wait_msg calls
# setblocking(True)), so a broker that accepts and then says nothing would
# hang the mesh loop for good. The link gives umqtt a socket whose
# setblocking(True) means "block at most SOCKET_TIMEOUT_S" (TimedSocket).
import time

import socket

BACKOFF_FIRST_MS = 1000
BACKOFF_MAX_MS = 60000
PUBLISH_PER_STEP = 8        # outbox messages sent per step()
SOCKET_TIMEOUT_S = 1        # the longest one socket operation may block the loop
KEEPALIVE_S = 60            # told to the broker; we ping after half of it idle
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
    `offline` (retained) from the broker when the gateway vanishes;
    `on_message(topic, payload)` gets what the broker sends to `subscribe`
    (bytes); it must not block (it runs inside step()). `current` (optional,
    peek()/done() like the outbox, drained first) holds current state that
    is rebuilt rather than stored (discovery, availability; one per step
    while readings wait): its
    `on_connect()` is called after every connect, to queue all of it again."""

    def __init__(self, url, client_id, outbox, will_topic, client_factory=None, now_ms=None,
                 subscribe=(), on_message=None, current=None):
        self.host, self.port, self.user, self.password, self.tls = parse_url(url)
        self.client_id = client_id
        self.outbox = outbox
        self.will_topic = will_topic
        self._factory = client_factory or _umqtt_client
        self._now = now_ms or time.ticks_ms
        self.current = current
        self.subscribe = subscribe
        self.on_message = on_message
        self.client = None
        self.backoff_ms = 0
        self._retry_at = None
        self.failures = 0           # connects or publishes that failed
        self.published = 0
        self._last_sent = 0

    def connected(self):
        return self.client is not None

    def step(self):
        """Connect if due, then publish up to PUBLISH_PER_STEP queued messages."""
        if self.client is None and not self._due():
            return
        try:
            if self.client is None:
                self._connect()
            self._publish_some()
            self._keep_alive()
        except MemoryError:     # not the broker's fault: the app's guarded_step decides
            self._lost()
            raise
        except Exception:       # a broker or network failure of any kind: back off
            self._lost()

    def _publish_some(self):
        # One current-state message (a discovery config takes tens of ms to
        # build) per step at most while readings wait, so a reading never
        # waits behind the whole mesh's discovery after a connect.
        for i in range(PUBLISH_PER_STEP):
            source = self.outbox
            if self.current is not None and (i == 0 or self.outbox.peek() is None) \
                    and self.current.peek() is not None:
                source = self.current
            item = source.peek()
            if item is None:
                return
            topic, payload, retain = item
            if isinstance(payload, str):
                payload = payload.encode()
            self.client.publish(topic.encode(), payload, retain, 1)
            source.done()
            self.published += 1
            self._last_sent = self._now()

    def _keep_alive(self):
        # check_msg reads what the broker sent (PINGRESP, PUBACKs of nothing)
        # without blocking; a ping after half the keepalive idle keeps the
        # broker from dropping us (and firing the will) on a quiet mesh.
        self.client.check_msg()
        if time.ticks_diff(self._now(), self._last_sent) >= KEEPALIVE_S * 500:
            self.client.ping()
            self._last_sent = self._now()

    def _received(self, topic, payload):
        if self.on_message is not None:
            try:
                self.on_message(topic, payload)
            except Exception:   # a bad command must not cost the connection
                pass

    def _due(self):
        return self._retry_at is None or time.ticks_diff(self._now(), self._retry_at) >= 0

    def _connect(self):
        client = self._factory(self.client_id, self.host, self.port, self.user, self.password, self.tls)
        client.set_last_will(self.will_topic.encode(), OFFLINE, True, 1)
        # a broker may send us a PUBLISH we did not subscribe to (amqtt 0.12
        # did, after a reconnect): umqtt calls the callback for any, and
        # without one it raises, so there is always one
        client.set_callback(self._received)
        client.connect()
        for topic in self.subscribe:
            client.subscribe(topic.encode(), 0)
        self.client = client
        self.backoff_ms = 0
        self._retry_at = None
        client.publish(self.will_topic.encode(), ONLINE, True, 1)
        self._last_sent = self._now()
        if self.current is not None:
            self.current.on_connect()

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


class TimedSocket:
    """A socket whose every operation blocks at most `timeout_s`: blocking
    means "with a timeout", non-blocking stays non-blocking. A timed-out
    operation raises OSError (ETIMEDOUT), which the link treats as a lost
    connection (the stream may be mid-packet, so it is closed)."""

    def __init__(self, timeout_s=SOCKET_TIMEOUT_S):
        self._timeout_s = timeout_s
        self._sock = socket.socket()
        self._sock.settimeout(timeout_s)

    def setblocking(self, flag):
        self._sock.settimeout(self._timeout_s if flag else 0)

    def connect(self, addr):
        self._sock.connect(addr)

    def read(self, *args):
        return self._sock.read(*args)

    def write(self, data, *args):
        if isinstance(data, Parts):     # a long payload, written piece by piece
            for part in data.parts:
                self._sock.write(part)
            return len(data)
        return self._sock.write(data, *args)

    def close(self):
        self._sock.close()


class Parts:
    """A payload as a list of short byte strings: umqtt takes its len() for
    the packet header and hands it to TimedSocket.write, which writes the
    pieces, so no single block of the whole payload's size is needed."""

    def __init__(self, parts):
        self.parts = [p.encode() if isinstance(p, str) else p for p in parts]
        self._len = sum(len(p) for p in self.parts)

    def __len__(self):
        return self._len


class _TimedSockets:
    """What umqtt.simple calls `socket`: the module, with socket() timed."""
    getaddrinfo = staticmethod(socket.getaddrinfo)
    socket = TimedSocket


def _umqtt_client(client_id, host, port, user, password, tls):
    from umqtt import simple
    if tls:     # ssl wraps a real socket: timeouts on it, but not re-armed after check_msg
        raise ValueError("mqtts:// is not supported by the gateway yet")
    simple.socket = _TimedSockets
    return simple.MQTTClient(client_id, host, port, user, password, keepalive=KEEPALIVE_S)
