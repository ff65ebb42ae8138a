# Replay protection: per sender, the newest (boot, ctr) seen plus a sliding
# bitmap of the `window` counters below it (the IPsec/DTLS anti-replay window,
# RFC 4303 section 3.4.3), keyed additionally by the sender's boot counter so
# that a reboot (counter back to 0, boot counter + 1) is accepted.
#
# Bounded: when max_senders are tracked, the least recently updated sender is
# forgotten. Its next frame is then accepted as if first heard, so frames of
# that sender captured earlier can be replayed once each until it is tracked
# again. Size max_senders above the number of nodes a node can hear.
#
# Memory: one bytearray per sender (boot, top counter, stamp as u32, then the
# window bitmap), not a list holding a 64-bit mask: the mask alone would be a
# heap-allocated long int (over 62 bits on 64-bit, 30 on 32-bit builds).
# 12 + window/8 bytes: 2 GC blocks per sender instead of 4.
import struct

_HEAD = "<III"       # boot, top counter, stamp
_MASK_AT = 12


class ReplayTable:
    def __init__(self, max_senders=32, window=64):
        if max_senders < 1 or window < 1:
            raise ValueError("max_senders and window must be >= 1")
        self.max_senders = max_senders
        self.window = window
        self._mask_len = (window + 7) // 8
        self._full = (1 << window) - 1
        # sender -> record; bit i of the bitmap means counter top - i was accepted.
        self._senders = {}
        self._stamp = 0

    def __len__(self):
        return len(self._senders)

    def check(self, sender, boot, ctr):
        """True if (boot, ctr) from sender is fresh. Never mutates."""
        s = self._senders.get(sender)
        if s is None:
            return True
        s_boot, top = struct.unpack_from("<II", s, 0)
        if boot != s_boot:
            return boot > s_boot
        if ctr > top:
            return True
        d = top - ctr
        if d >= self.window:
            return False
        return not (s[_MASK_AT + (d >> 3)] >> (d & 7)) & 1

    def accept(self, sender, boot, ctr):
        """Record (boot, ctr) as seen. Returns False (and changes nothing) for a replay."""
        if not self.check(sender, boot, ctr):
            return False
        self._stamp = (self._stamp + 1) & 0xFFFFFFFF
        s = self._senders.get(sender)
        if s is None or boot > struct.unpack_from("<I", s, 0)[0]:
            if s is None:
                if len(self._senders) >= self.max_senders:
                    self._evict()
                s = self._senders[bytes(sender)] = bytearray(_MASK_AT + self._mask_len)
            else:
                s[_MASK_AT:] = bytes(self._mask_len)
            struct.pack_into(_HEAD, s, 0, boot, ctr, self._stamp)
            s[_MASK_AT] = 1
            return True
        top = struct.unpack_from("<I", s, 4)[0]
        if ctr > top:
            shift = ctr - top
            mask = self._mask(s)
            self._set_mask(s, ((mask << shift) | 1) & self._full if shift < self.window else 1)
            top = ctr
        else:
            d = top - ctr
            s[_MASK_AT + (d >> 3)] |= 1 << (d & 7)
        struct.pack_into("<II", s, 4, top, self._stamp)
        return True

    def _mask(self, s):
        return int.from_bytes(bytes(s[_MASK_AT:]), "little")

    def _set_mask(self, s, mask):
        s[_MASK_AT:] = mask.to_bytes(self._mask_len, "little")

    def _evict(self):
        # Ages, not raw stamps: the 32-bit stamp wraps, and after a wrap the
        # most active senders would hold the smallest stamps.
        oldest = None
        oldest_age = -1
        for sender, s in self._senders.items():
            age = (self._stamp - struct.unpack_from("<I", s, 8)[0]) & 0xFFFFFFFF
            if age > oldest_age:
                oldest, oldest_age = sender, age
        del self._senders[oldest]

    def snapshot(self):
        """Comparable copy of the whole state (for tests and debugging):
        [(sender, boot, top counter, bitmap, stamp)]."""
        out = []
        for k, s in self._senders.items():
            boot, top, stamp = struct.unpack_from(_HEAD, s, 0)
            out.append((k, boot, top, self._mask(s), stamp))
        out.sort()
        return out
