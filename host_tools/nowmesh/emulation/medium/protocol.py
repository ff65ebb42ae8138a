"""The wire protocol between emulated nodes and the medium (docs/emulation.md).

Every message is `u16 length | u8 type | body`, big-endian, where `length`
counts the type byte and the body. The MicroPython side speaks the same
protocol in upy/_nowmesh_link.py; tests/emulation checks both against the
golden vectors below.
"""
import struct

# node -> medium
HELLO = 0x01        # mac[6] [, max_data_len u16: 250 if absent]
CHANNEL = 0x02      # channel u8
TX = 0x03           # token u32, flags u8, dst mac[6], [key_id[8] if FLAG_ENCRYPTED], frame
RADIO = 0x04        # on u8: 1 while a WLAN interface is active
RATE = 0x05         # rate u8: espnow.config(rate=), a wifi_phy_rate_t code
PROTOCOL = 0x06     # bits u8: WLAN.config(protocol=) (11b 1, 11g 2, 11n 4, LR 8)
# control (any connection, e.g. a test or `nowmesh emulate`)
CUT = 0x10          # mac[6], cut u8: 1 = unreachable, 0 = back on air
KILL = 0x11         # mac[6]: cut, and drop its queued frames (power loss)
SET_LOSS = 0x12     # ppm u32: extra per-frame loss probability * 1e6
STATUS = 0x13       # empty: ask for a JSON status line
MOVE = 0x14         # mac[6], x i32, y i32 (centimetres): a new position
PARTITION = 0x15    # n * (mac[6], group u8): only same-group nodes hear each other; empty heals
INJECT = 0x16       # src mac[6], dst mac[6], frame: an attacker's radio sends frame as src (replay)
# medium -> node
WELCOME = 0x81      # index u16, channel u8
RX = 0x82           # src mac[6], rssi i8, frame
RX_SEALED = 0x85    # src mac[6], rssi i8, key_id[8], frame: sent encrypted with that key
TXDONE = 0x83       # token u32, ok u8
ERROR = 0x84        # utf-8 text; the medium closes the connection after it
REPLY = 0x90        # status u8 (0 ok), utf-8 text (JSON for STATUS)

FLAG_SYNC = 0x01
FLAG_ENCRYPTED = 0x02     # the sender encrypted it for the peer (LMK): a key_id follows dst
KEY_ID_LEN = 8
V1_MAX_DATA_LEN = 250
BROADCAST = b"\xff" * 6
HEADER = struct.Struct(">HB")
MAX_MESSAGE = 4096  # longer than any frame (ESP-NOW v2 allows 1470 bytes)


class ProtocolError(Exception):
    """A peer sent bytes that are not a valid message; the only error decode raises."""


def encode(kind, body=b""):
    return HEADER.pack(len(body) + 1, kind) + bytes(body)


def hello(mac, max_data_len=None):
    body = _mac(mac)
    if max_data_len is not None:
        body += struct.pack(">H", max_data_len)
    return encode(HELLO, body)


def channel(number):
    return encode(CHANNEL, bytes((number,)))


def radio(on):
    return encode(RADIO, b"\x01" if on else b"\x00")


def tx(token, dst, frame, sync=True, key_id=None):
    flags = (FLAG_SYNC if sync else 0) | (FLAG_ENCRYPTED if key_id is not None else 0)
    sealed = _key_id(key_id) if key_id is not None else b""
    return encode(TX, struct.pack(">IB", token, flags) + _mac(dst) + sealed + bytes(frame))


def rate(code):
    return encode(RATE, bytes((code,)))


def protocol_bits(bits):
    return encode(PROTOCOL, bytes((bits,)))


def cut(mac, on=True):
    return encode(CUT, _mac(mac) + (b"\x01" if on else b"\x00"))


def kill(mac):
    return encode(KILL, _mac(mac))


def set_loss(probability):
    return encode(SET_LOSS, struct.pack(">I", int(round(probability * 1e6))))


def status():
    return encode(STATUS)


def move(mac, x_m, y_m):
    return encode(MOVE, _mac(mac) + struct.pack(">ii", int(round(x_m * 100)), int(round(y_m * 100))))


def partition(groups):
    """groups: {mac: group number 1..255}; nodes not listed are in group 0."""
    body = b"".join(_mac(mac) + bytes((group,)) for mac, group in sorted(groups.items()))
    return encode(PARTITION, body)


def inject(src, dst, frame):
    return encode(INJECT, _mac(src) + _mac(dst) + bytes(frame))


def welcome(index, channel_number):
    return encode(WELCOME, struct.pack(">HB", index, channel_number))


def rx(src, rssi, frame, key_id=None):
    if key_id is None:
        return encode(RX, _mac(src) + struct.pack(">b", rssi) + bytes(frame))
    return encode(RX_SEALED, _mac(src) + struct.pack(">b", rssi) + _key_id(key_id) + bytes(frame))


def txdone(token, ok):
    return encode(TXDONE, struct.pack(">IB", token, 1 if ok else 0))


def error(text):
    return encode(ERROR, text.encode("utf-8"))


def reply(ok, text=""):
    return encode(REPLY, bytes((0 if ok else 1,)) + text.encode("utf-8"))


def _key_id(key_id):
    key_id = bytes(key_id)
    if len(key_id) != KEY_ID_LEN:
        raise ValueError("a key id is %d bytes, got %d" % (KEY_ID_LEN, len(key_id)))
    return key_id


def _mac(mac):
    mac = bytes(mac)
    if len(mac) != 6:
        raise ValueError("a MAC address is 6 bytes, got %d" % len(mac))
    return mac


# Minimum body length per type: shorter bodies are protocol errors.
_MIN_BODY = {HELLO: 6, CHANNEL: 1, TX: 11, RADIO: 1, RATE: 1, PROTOCOL: 1, CUT: 7, KILL: 6,
             SET_LOSS: 4, STATUS: 0, MOVE: 14, PARTITION: 0, INJECT: 12, WELCOME: 3, RX: 7, RX_SEALED: 15,
             TXDONE: 5, ERROR: 0, REPLY: 1}


def parse(kind, body):
    """The fields of one message as a tuple; ProtocolError if malformed."""
    need = _MIN_BODY.get(kind)
    if need is None:
        raise ProtocolError("unknown message type 0x%02x" % kind)
    if len(body) < need:
        raise ProtocolError("message 0x%02x too short (%d bytes)" % (kind, len(body)))
    if kind == HELLO:
        max_len = struct.unpack_from(">H", body, 6)[0] if len(body) >= 8 else V1_MAX_DATA_LEN
        return body[:6], max_len
    if kind == KILL:
        return (body[:6],)
    if kind in (CHANNEL, RADIO, RATE, PROTOCOL):
        return (body[0],)
    if kind == TX:
        token, flags = struct.unpack_from(">IB", body)
        if not flags & FLAG_ENCRYPTED:
            return token, body[5:11], body[11:], bool(flags & FLAG_SYNC), None
        if len(body) < 11 + KEY_ID_LEN:
            raise ProtocolError("encrypted TX without its key id")
        return (token, body[5:11], body[11 + KEY_ID_LEN:], bool(flags & FLAG_SYNC),
                body[11:11 + KEY_ID_LEN])
    if kind == CUT:
        return body[:6], bool(body[6])
    if kind == INJECT:
        return bytes(body[:6]), bytes(body[6:12]), bytes(body[12:])
    if kind == MOVE:
        x_cm, y_cm = struct.unpack_from(">ii", body, 6)
        return body[:6], x_cm / 100.0, y_cm / 100.0
    if kind == PARTITION:
        if len(body) % 7:
            raise ProtocolError("partition body is not a list of 7-byte entries")
        return ({bytes(body[k:k + 6]): body[k + 6] for k in range(0, len(body), 7)},)
    if kind == SET_LOSS:
        return (struct.unpack_from(">I", body)[0] / 1e6,)
    if kind == WELCOME:
        return struct.unpack_from(">HB", body)
    if kind == RX:
        return body[:6], struct.unpack_from(">b", body, 6)[0], body[7:]
    if kind == RX_SEALED:
        return body[:6], struct.unpack_from(">b", body, 6)[0], body[15:], body[7:15]
    if kind == TXDONE:
        token, ok = struct.unpack_from(">IB", body)
        return token, bool(ok)
    if kind in (ERROR, STATUS):
        return (_text(body),)
    return body[0] == 0, _text(body[1:])      # REPLY


def _text(data):
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("text is not UTF-8") from None


class Decoder:
    """Splits a byte stream into (type, body) messages."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += data
        messages = []
        while len(self._buffer) >= 2:
            length = (self._buffer[0] << 8) | self._buffer[1]
            if length < 1 or length > MAX_MESSAGE:
                raise ProtocolError("bad message length %d" % length)
            if len(self._buffer) < 2 + length:
                break
            kind = self._buffer[2]
            messages.append((kind, bytes(self._buffer[3:2 + length])))
            del self._buffer[:2 + length]
        return messages
