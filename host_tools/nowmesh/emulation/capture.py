"""Frame captures of an emulated mesh, and decoding them with the network key.

File format (little-endian): the 8-byte magic b"NMCAP1\\n\\0", then one record
per frame put on the air (MAC retries and ACKs are not recorded):
t_us (u64, medium clock) | channel (u8) | sender MAC (6) | destination MAC (6,
ff:ff:ff:ff:ff:ff for broadcast) | length (u16) | frame bytes.
"""
import struct

from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from mesh import crypto, wire  # noqa: E402

from nowmesh.errors import InputError

MAGIC = b"NMCAP1\n\0"
RECORD = struct.Struct("<QB6s6sH")
BROADCAST = b"\xff" * 6


class FrameCapture:
    """Appends frames to a capture file (used from the medium's thread only)."""

    def __init__(self, path):
        self.path = path
        self.stream = open(path, "wb")
        self.stream.write(MAGIC)
        self.stream.flush()
        self.frames = 0

    def write(self, t_us, channel, src, dst, frame):
        self.stream.write(RECORD.pack(t_us, channel, src, dst or BROADCAST, len(frame)) + bytes(frame))
        self.stream.flush()            # readable while the emulation runs
        self.frames += 1

    def close(self):
        self.stream.close()


def read_capture(path):
    """[(t_us, channel, src, dst, frame)]; a bad file raises InputError naming it."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise InputError(path, None, exc.strerror or str(exc)) from None
    if not data.startswith(MAGIC):
        raise InputError(path, None, "not a nowmesh capture (no NMCAP1 header)")
    records, offset = [], len(MAGIC)
    while offset < len(data):
        if offset + RECORD.size > len(data):
            raise InputError(path, "record %d" % len(records), "truncated record header")
        t_us, channel, src, dst, length = RECORD.unpack_from(data, offset)
        offset += RECORD.size
        if offset + length > len(data):
            raise InputError(path, "record %d" % len(records), "truncated frame")
        records.append((t_us, channel, src, dst, data[offset:offset + length]))
        offset += length
    return records


def _type_names():
    names = {}
    modules = [wire]
    try:
        from mesh import frames
        modules.append(frames)
    except ImportError:
        pass
    for module in modules:
        for attr in dir(module):
            value = getattr(module, attr)
            if attr.startswith("T_") and isinstance(value, int) and not attr.endswith(("_FIRST", "_LAST")):
                names.setdefault(value, attr[2:].lower())
    return names


def decode_record(record, keys, policy_decode=None, type_names=None):
    """One capture record as a JSON-able dict; frames that fail to open say why."""
    t_us, channel, src, dst, frame = record
    out = {"t_ms": round(t_us / 1000.0, 3), "channel": channel, "src": src.hex(":"),
           "dst": "broadcast" if dst == BROADCAST else dst.hex(":"), "length": len(frame)}
    try:
        ftype, sender, boot, ctr, payload = crypto.open_frame(keys, frame)
    except wire.FrameError as exc:
        out["error"] = exc.reason
        return out
    names = type_names or {}
    out.update({"type": names.get(ftype, ftype), "sender": sender.hex(":"), "boot": boot,
                "counter": ctr, "encrypted": bool(frame[1] & 0x80), "payload": payload.hex()})
    if policy_decode is not None:
        try:
            out["message"] = _plain(policy_decode(ftype, payload))
        except wire.FrameError as exc:
            out["message_error"] = exc.reason
    return out


def _plain(value):
    """Core message objects -> JSON-able structures, as far as they go."""
    if isinstance(value, (bytes, bytearray)):
        return value.hex(":") if len(value) == 6 else value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def decoder(key):
    """A function record -> dict for this network key, decoding payloads with the core."""
    from mesh.node import Node
    keys = crypto.Keys(key)
    probe = Node({"id": b"\x02\x00\x00\x00\x00\x00", "name": "decoder", "key": key}, 1, b"decode", 0)
    names = _type_names()
    return lambda record: decode_record(record, keys, probe.policy.decode, names)
