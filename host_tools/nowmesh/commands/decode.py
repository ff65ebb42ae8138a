"""Decode a frame capture of an emulated mesh (`nowmesh emulate --capture FILE`).

Every frame is authenticated and decrypted with the network key, then its
payload is decoded by the mesh core itself. Frames that fail say why (tag,
replay is not checked here, short, ...).

Examples:
  nowmesh decode mesh.cap
  nowmesh decode mesh.cap --json | jq 'select(.type == "readings")'
  nowmesh decode mesh.cap --key 000102030405060708090a0b0c0d0e0f
"""
import json

from nowmesh.emulation.capture import decoder, read_capture
from nowmesh.emulation.mesh import DEFAULT_KEY


def add_arguments(p):
    p.add_argument("file", help="capture file written by nowmesh emulate --capture")
    p.add_argument("--key", default=DEFAULT_KEY, help="network key as hex (default: the emulator's)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    p.add_argument("--limit", type=int, default=None, help="decode at most this many frames")


def run(args):
    try:
        key = bytes.fromhex(args.key)
    except ValueError:
        key = b""
    if len(key) not in (16, 32):
        args._parser.error("--key must be 32 or 64 hex digits")
    records = read_capture(args.file)[: args.limit]
    decode = decoder(key)
    for record in records:
        frame = decode(record)
        if args.json:
            print(json.dumps(frame, sort_keys=True))
        else:
            print(_line(frame))
    return 0


def _line(frame):
    head = "%10.3f ms ch%-2d %s -> %-17s" % (frame["t_ms"], frame["channel"], frame["src"], frame["dst"])
    if "error" in frame:
        return "%s  REJECTED (%s), %d bytes" % (head, frame["error"], frame["length"])
    body = frame.get("message", frame["payload"])
    return "%s  %-9s boot %d ctr %d  %s" % (head, frame["type"], frame["boot"], frame["counter"],
                                             json.dumps(body)[:160])
