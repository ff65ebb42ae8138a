"""SLIP framing as the ESP ROM loader uses it: every packet is wrapped in 0xC0
bytes; 0xC0 and 0xDB inside a packet travel as 0xDB 0xDC and 0xDB 0xDD."""

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def encode(packet):
    body = bytes(packet).replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class Decoder:
    """Incremental decoder: feed() bytes as they arrive, get whole packets back.

    Bytes outside a packet are dropped, as the ROM drops line noise between
    packets. A bad escape spoils the packet it is in (it is thrown away)."""

    def __init__(self):
        self._packet = None
        self._escaped = False
        self._spoiled = False

    def reset(self):
        self.__init__()

    def feed(self, data):
        packets = []
        for b in data:
            if self._packet is None:
                if b == END:
                    self._packet, self._escaped, self._spoiled = bytearray(), False, False
                continue
            if self._escaped:
                self._escaped = False
                if b == ESC_END:
                    self._packet.append(END)
                elif b == ESC_ESC:
                    self._packet.append(ESC)
                else:
                    self._spoiled = True
            elif b == ESC:
                self._escaped = True
            elif b == END:
                if self._packet and not self._spoiled:
                    packets.append(bytes(self._packet))
                # an END right after an END also opens the next packet
                self._packet, self._spoiled = bytearray(), False
            else:
                self._packet.append(b)
        return packets
