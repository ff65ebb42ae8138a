"""A real MQTT broker on a free local port, for tests and benchmarks.

`LocalBroker("amqtt")` runs amqtt's broker (a pinned dependency) as a
subprocess; `LocalBroker("mosquitto")` runs mosquitto where it is on PATH.
`stop()` and `start()` restart it on the same port, as a broker restart
does (retained messages and sessions are gone: neither keeps them on disk
here).

`Cable` is a TCP relay between a client and the broker that a test can
unplug: a bridge pointed at `cable.port` loses its broker while the test's
own subscriber stays connected to the broker's port, so what reaches the
broker after an outage is seen by a subscriber that never left.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

KINDS = ("amqtt", "mosquitto")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available(kind):
    if kind == "amqtt":
        try:
            import amqtt  # noqa: F401
            return True
        except ImportError:
            return False
    return shutil.which("mosquitto") is not None


class LocalBroker:
    """`tls=True` (mosquitto only): a second listener, TLS with a certificate
    for localhost signed by a CA made for the broker (`ca_file`), on
    `tls_port` (`tls_url`), beside the plain one."""

    def __init__(self, kind="amqtt", port=None, tls=False):
        self.kind = kind
        self.port = port or free_port()
        self.url = "mqtt://127.0.0.1:%d" % self.port
        self.dir = tempfile.mkdtemp(prefix="nowmesh-broker-")
        self.tls_port = free_port() if tls else None
        self.tls_url = "mqtts://localhost:%d" % self.tls_port if tls else None
        self.ca_file = _make_certificates(self.dir) if tls else None
        self.log_path = os.path.join(self.dir, "broker.log")
        self.proc = None

    def _command(self):
        if self.kind == "amqtt":
            path = os.path.join(self.dir, "amqtt.yaml")
            with open(path, "w") as f:
                f.write("listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:%d\n"
                        "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                        "    allow_anonymous: true\n" % self.port)
            exe = os.path.join(os.path.dirname(sys.executable), "amqtt")
            return [exe, "-c", path]
        path = os.path.join(self.dir, "mosquitto.conf")
        with open(path, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % self.port)
            if self.tls_port:
                f.write("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n" % (
                    self.tls_port, self.ca_file, os.path.join(self.dir, "server.pem"),
                    os.path.join(self.dir, "server.key")))
        return [shutil.which("mosquitto"), "-c", path]

    def start(self, timeout=15.0):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%s): %s" % (self.kind, self.proc.returncode, self._log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not listen on %d within %gs: %s" % (self.kind, self.port, timeout,
                                                                      self._log_tail()))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def _log_tail(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-600:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _make_certificates(folder):
    """A CA and a server certificate for localhost/127.0.0.1 it signed, in
    `folder` (ca.pem, server.pem, server.key) -> the CA file's path."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, public_key, signing_key, ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nowmesh test CA")])
    ca_cert = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    server_cert = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]), ca_name,
                              server_key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    for name, data in (("ca.pem", ca_cert.public_bytes(pem)), ("server.pem", server_cert.public_bytes(pem)),
                       ("server.key", server_key.private_bytes(pem, serialization.PrivateFormat.TraditionalOpenSSL,
                                                           serialization.NoEncryption()))):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
        # mosquitto started as root reads them as the user it drops to (test files, no secret)
        os.chmod(os.path.join(folder, name), 0o644)
    os.chmod(folder, 0o755)
    return os.path.join(folder, "ca.pem")


class Cable:
    """127.0.0.1:port -> 127.0.0.1:target, byte for byte, until unplugged."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.url = "mqtt://127.0.0.1:%d" % self.port
        self.plugged = True
        self._pairs = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="nowmesh-cable").start()

    def _accept(self):
        while not self._closed:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.plugged:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            # the 2 s was for connecting only: left on, a broker silent for 2 s
            # (no PUBACK due) timed the pipe's recv out and cut the client off
            # (the gateway's periodic reconnects, the bench's p95 1.7-2.4 s)
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def unplug(self):
        """Cut every connection and refuse new ones until plug()."""
        self.plugged = False
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def plug(self):
        self.plugged = True

    def close(self):
        self._closed = True
        self.unplug()
        self.server.close()


class Recorder:
    """A real paho-mqtt subscriber that keeps every message it receives as
    (monotonic time, topic, payload bytes, retained flag), as Home Assistant
    would see them."""

    def __init__(self, port, topics=("#",), qos=1):
        self.qos = qos
        import paho.mqtt.client as mqtt
        self.messages = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.subscriptions = 0            # SUBACKs so far (one per connection)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="nowmesh-recorder-%d" % id(self))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, self.qos) for t in topics])
        self.client.on_subscribe = self._suback
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port, keepalive=15)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the recorder could not subscribe on port %d" % port)

    def _suback(self, *args):
        self.subscriptions += 1
        self._subscribed.set()

    def _message(self, client, userdata, msg):
        with self._lock:
            self.messages.append((time.monotonic(), msg.topic, bytes(msg.payload), bool(msg.retain)))

    def resubscribed(self, before, timeout=10):
        """Wait until the recorder subscribed again since it had `before` SUBACKs (a broker restart)."""
        deadline = time.monotonic() + timeout
        while self.subscriptions <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.subscriptions > before

    def on(self, topic):
        with self._lock:
            return [m for m in self.messages if m[1] == topic]

    def topics(self):
        with self._lock:
            return {m[1] for m in self.messages}

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                snapshot = list(self.messages)
            result = predicate(snapshot)
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError("within %gs the broker did not show %s" % (timeout, what))

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


CHANNEL_EVENTS = ("channel", "gateway_channel", "gateway_wifi")


class BoardReadings:
    """A tap on an emulated board's output (Emulation(taps={name: ...})): when
    each (origin id, seq) reading event first appeared there, by
    time.monotonic(). What reached the bridge's board is what must reach the
    broker; a reading the radio lost never got that far."""

    def __init__(self):
        self.seen = {}                        # (id, seq) -> monotonic time
        self.values = {}                      # (id, seq) -> {quantity: value}
        self.channel_events = []              # (monotonic time, event): channel moves, the gateway's Wi-Fi
        self._buf = bytearray()

    def __call__(self, data):                 # the board's supervisor thread
        from nowmesh.console.protocol import parse_line
        self._buf += data
        while b"\n" in self._buf:
            end = self._buf.index(b"\n")
            line, self._buf = bytes(self._buf[:end]), self._buf[end + 1:]
            parsed = parse_line(line.decode("utf-8", "replace").rstrip("\r"))
            if parsed.kind == "event" and parsed.data.get("ev") == "reading":
                key = (parsed.data.get("id"), parsed.data.get("seq"))
                self.seen.setdefault(key, time.monotonic())
                self.values[key] = {v[0]: v[1] for v in parsed.data.get("values") or () if len(v) == 3}
            elif parsed.kind == "event" and parsed.data.get("ev") in CHANNEL_EVENTS:
                self.channel_events.append((time.monotonic(), parsed.data))

    def between(self, start, end):
        return {key for key, t in list(self.seen.items()) if start <= t <= end}


def record_to_file(port, path, topics):
    """A paho subscriber that appends one JSON line per message
    ([monotonic t, topic, payload text]) and per SUBACK (["subscribed", n]) to
    `path`, until killed: a subscriber in a process of its own, so that no
    other work in the measuring process delays its clock readings
    (CLOCK_MONOTONIC is the same in every process of the machine)."""
    import json
    out = open(path, "a", buffering=1)
    subacks = [0]

    def suback(*args):
        subacks[0] += 1
        out.write(json.dumps(["subscribed", subacks[0]]) + "\n")

    def message(client, userdata, msg):
        out.write(json.dumps([time.monotonic(), msg.topic, msg.payload.decode("utf-8", "replace")]) + "\n")

    import paho.mqtt.client as mqtt
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="nowmesh-recorder-%d" % os.getpid())
    client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
    client.on_subscribe = suback
    client.on_message = message
    client.reconnect_delay_set(0.2, 1)
    client.connect("127.0.0.1", port, keepalive=15)
    client.loop_forever(retry_first_connection=True)


if __name__ == "__main__":
    record_to_file(int(sys.argv[1]), sys.argv[2], sys.argv[3:])
