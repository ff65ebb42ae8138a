"""`python -m nowmesh.emulation.medium.server`: the real-time radio medium.

A TCP server on 127.0.0.1 that carries ESP-NOW frames between emulated nodes
(`micropython` processes whose `espnow` module is upy/espnow.py). Frames go
through the simulator's own radio model and MAC (sim.radio, sim.medium) via
`Air`; the simulator's event queue is driven from the wall clock: virtual
time is the time since the server started, events run when they fall due,
and the loop sleeps in select() until the next event or socket activity.
The wire protocol is in protocol.py and docs/emulation.md.
"""
import argparse
import json
import os
import selectors
import socket
import sys
import threading
import time

from nowmesh.emulation.medium import protocol
from nowmesh.emulation.medium.air import Air
from nowmesh.errors import InputError
from nowmesh.radio import model as radio
from nowmesh.radio.topology import make_topology

IDLE_WAIT_S = 0.5                 # longest select() when no event is due
MAX_OUTPUT = 1 << 20              # a process this far behind is disconnected


# node message -> the Air method that applies it to the sending node
NODE_MESSAGES = {protocol.CHANNEL: "set_channel", protocol.RADIO: "set_radio",
                 protocol.RATE: "set_rate", protocol.PROTOCOL: "set_protocol",
                 protocol.TX: "transmit"}
# control message -> the Air method that applies it (STATUS answers with JSON)
CONTROL = {protocol.CUT: "cut", protocol.KILL: "kill", protocol.SET_LOSS: "set_loss",
           protocol.MOVE: "move", protocol.PARTITION: "partition", protocol.INJECT: "inject",
           protocol.STATUS: None}


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.decoder = protocol.Decoder()
        self.output = bytearray()
        self.node = None
        self.send_to_node = None
        self.closing = False


class MediumServer:
    """Serve `topology` on host:port (port 0: an ephemeral port, see `.address`)."""

    def __init__(self, topology, seed=1, host="127.0.0.1", port=0, **air_options):
        self.air = Air(topology, seed=seed, **air_options)
        self.selector = selectors.DefaultSelector()
        self.listener = socket.create_server((host, port))
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.address = self.listener.getsockname()[:2]
        self._stopping = False
        self._started = time.monotonic()
        self._connections = set()

    # -- running ---------------------------------------------------------------
    def serve_forever(self):
        try:
            while not self._stopping:
                self._advance()
                for key, mask in self.selector.select(self._timeout_s()):
                    self._advance()
                    self._dispatch(key, mask)
        finally:
            self._close_all()

    def start_thread(self):
        """Serve from a daemon thread (tests, `nowmesh emulate`); stop() ends it."""
        thread = threading.Thread(target=self.serve_forever, name="nowmesh-medium", daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def stop(self):
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _now_us(self):
        return int((time.monotonic() - self._started) * 1e6)

    def _advance(self):
        self.air.q.run_until(self._now_us())
        self._flush_all()

    def _timeout_s(self):
        due = self.air.q.next_us()
        if due is None:
            return IDLE_WAIT_S
        return min(IDLE_WAIT_S, max(0.0, (due - self._now_us()) / 1e6))

    def _dispatch(self, key, mask):
        if key.data is None:
            self._accept()
        elif key.data == "wake":
            self._wake_r.recv(64)
        else:
            conn = key.data
            if mask & selectors.EVENT_READ:
                self._read(conn)
            if mask & selectors.EVENT_WRITE and not conn.closing:
                self._flush(conn)

    # -- connections -----------------------------------------------------------
    def _accept(self):
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock)
        self._connections.add(conn)
        self.selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        try:
            for kind, body in conn.decoder.feed(data):
                self._handle(conn, kind, protocol.parse(kind, body))
        except protocol.ProtocolError as error:
            self._refuse(conn, "protocol error: %s" % error)

    def _send(self, conn, message):
        if conn.closing:
            return
        conn.output += message
        if len(conn.output) > MAX_OUTPUT:
            conn.output.clear()
            self._drop(conn)

    def _flush_all(self):
        for conn in list(self._connections):
            if conn.output and not conn.closing:
                self._flush(conn)

    def _flush(self, conn):
        try:
            sent = conn.sock.send(conn.output)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(conn)
            return
        del conn.output[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.output else 0)
        self.selector.modify(conn.sock, events, conn)

    def _refuse(self, conn, text):
        conn.output += protocol.error(text)
        self._flush(conn)
        self._drop(conn)

    def _drop(self, conn):
        if conn.closing:
            return
        conn.closing = True
        self._release(conn)
        self._connections.discard(conn)
        self.selector.unregister(conn.sock)
        conn.sock.close()

    def _close_all(self):
        for conn in list(self._connections):
            self._drop(conn)
        for sock in (self.listener, self._wake_r, self._wake_w):
            sock.close()
        self.selector.close()

    # -- messages --------------------------------------------------------------
    def _handle(self, conn, kind, fields):
        if conn.closing:
            return
        if kind == protocol.HELLO:
            self._hello(conn, *fields)
        elif kind in NODE_MESSAGES:
            self._node_message(conn, kind, fields)
        elif kind in CONTROL:
            self._control(conn, kind, fields)
        else:
            self._refuse(conn, "unexpected message type 0x%02x" % kind)

    def _hello(self, conn, mac, max_data_len):
        if conn.node is not None:
            self._release(conn)
        for other in list(self._connections):
            if other is not conn and other.node is not None and other.node.mac == bytes(mac):
                self._refuse(other, "another process connected as %s" % bytes(mac).hex(":"))
        conn.send_to_node = lambda message: self._send(conn, message)
        node = self.air.bind(mac, conn.send_to_node, max_data_len)
        if node is None:
            self._refuse(conn, "no node in the topology has MAC %s" % bytes(mac).hex(":"))
            return
        conn.node = node

    def _release(self, conn):
        # Only the connection currently bound to the node may unbind it.
        if conn.node is not None and conn.node.send is conn.send_to_node:
            self.air.unbind(conn.node)
        conn.node = None

    def _node_message(self, conn, kind, fields):
        node = conn.node
        if node is None or node.send is not conn.send_to_node:
            self._refuse(conn, "send HELLO with the node's MAC first")
            return
        if kind == protocol.TX:
            token, dst, frame, _sync, key_id = fields
            fields = (token, dst, frame, key_id)
        try:
            getattr(self.air, NODE_MESSAGES[kind])(node, *fields)
        except ValueError as error:           # e.g. a rate the ESP32 has not
            self._refuse(conn, str(error))

    def _control(self, conn, kind, fields):
        if kind == protocol.STATUS:
            self._send(conn, protocol.reply(True, json.dumps(self.air.status())))
            return
        try:
            getattr(self.air, CONTROL[kind])(*fields)
        except (KeyError, ValueError) as error:
            self._send(conn, protocol.reply(False, str(error.args[0])))
            return
        self._send(conn, protocol.reply(True))


# -- command line -------------------------------------------------------------

def write_address_file(path, address):
    """Write 'host:port' atomically, so a reader never sees half a line."""
    temporary = "%s.tmp%d" % (path, os.getpid())
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write("%s:%d\n" % address)
    os.replace(temporary, path)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m nowmesh.emulation.medium.server",
                                     description="Real-time ESP-NOW medium for emulated nodes.")
    parser.add_argument("--topology", default="line",
                        help="line, grid, random or a topology JSON file (default line)")
    parser.add_argument("--nodes", type=int, default=3, help="node count for generated layouts")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: ephemeral)")
    parser.add_argument("--address-file", help="write host:port here once listening")
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--environment", choices=sorted(radio.ENVIRONMENTS), default="indoor")
    parser.add_argument("--shadowing", type=float, default=4.0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        topology = make_topology(args.topology, args.nodes, args.seed)
    except InputError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    server = MediumServer(topology, seed=args.seed, host=args.host, port=args.port,
                          loss=args.loss, exponent=radio.ENVIRONMENTS[args.environment],
                          shadowing_db=args.shadowing)
    if args.address_file:
        write_address_file(args.address_file, server.address)
    print("nowmesh medium on %s:%d, %d nodes" % (server.address + (len(topology),)), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
