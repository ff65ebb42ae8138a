"""A control client for a running medium: cut, kill, move, partition, loss, status.

For tests now and `nowmesh emulate` later; each call waits for the medium's
REPLY, so when it returns the change is in force for every later frame.
"""
import json
import socket

from nowmesh.emulation import protocol


class MediumError(Exception):
    """The medium refused a control command or closed the connection."""


class MediumControl:
    def __init__(self, address, timeout_s=5.0):
        self.sock = socket.create_connection(tuple(address), timeout=timeout_s)
        self.decoder = protocol.Decoder()
        self.pending = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cut(self, mac, on=True):
        return self._call(protocol.cut(mac, on))

    def kill(self, mac):
        return self._call(protocol.kill(mac))

    def set_loss(self, probability):
        return self._call(protocol.set_loss(probability))

    def move(self, mac, x_m, y_m):
        return self._call(protocol.move(mac, x_m, y_m))

    def partition(self, groups):
        """{mac: group 1..255}; unlisted nodes are group 0; {} heals."""
        return self._call(protocol.partition(groups))

    def inject(self, src, dst, frame):
        """Put frame on the air as if src sent it to dst (broadcast: ff:..:ff)."""
        return self._call(protocol.inject(src, dst, frame))

    def status(self):
        return json.loads(self._call(protocol.status()))

    def _call(self, message):
        self.sock.sendall(message)
        while True:
            while self.pending:
                kind, body = self.pending.pop(0)
                if kind == protocol.REPLY:
                    ok, text = protocol.parse(kind, body)
                    if not ok:
                        raise MediumError(text)
                    return text
                if kind == protocol.ERROR:
                    raise MediumError(protocol.parse(kind, body)[0])
            data = self.sock.recv(65536)
            if not data:
                raise MediumError("the medium closed the connection")
            self.pending.extend(self.decoder.feed(data))
