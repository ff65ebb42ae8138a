# Channel following: the mesh moves to the channel a gateway's access point
# dictates, and a node that lost the mesh looks for it on every channel
# (docs/protocol.md "Channel moves", docs/mqtt.md "Channels").
#
# ESP-NOW and a station share one radio: a gateway that joins its access
# point is on the AP's channel, whatever the mesh uses. So before it joins,
# the gateway floods a MOVE on the mesh's channel; every node relays it once
# and all switch together when its delay runs out. A node that missed it
# (off, out of range, a lost frame) hears nobody afterwards: after `quiet_ms`
# of silence it PROBEs its own channel, then each other channel in turn for
# DWELL_MS; any node that hears a probe answers (HERE), and any
# authenticated frame heard ends the scan on that channel. Every frame is a
# sealed mesh frame (network key, replay window) like all others, so only a
# member can move or answer anyone.
#
# Decisions only (sans-I/O): a switch is the event ("channel", number, why),
# which the port turns into the radio change; the current channel is
# node.config.channel. Plugged into the policy like OTA (mesh/ota.py).
#
# T_CHANNEL payload, first byte the kind:
#   MOVE  1 | origin id (6) | origin boot (u32) | move n (u16) | channel (u8) | delay ms (u16)
#   PROBE 2
#   HERE  3 | channel (u8)
import struct

from micropython import const

from .unicast import BROADCAST
from .wire import FrameError

T_CHANNEL = const(0x21)        # outside the routing range 4..15 (mesh/wire.py), beside T_OTA
K_MOVE, K_PROBE, K_HERE = const(1), const(2), const(3)
_MOVE = "<B6sIHBH"
_MOVE_LEN = const(16)
FIRST, LAST = const(1), const(13)   # the channels every region allows (14: Japan, 11b only)
MOVE_DELAY_MS = const(1000)    # from the gateway's announcement to everyone's switch
MIN_RELAY_MS = const(100)      # a move due sooner is not relayed: the copy would come after the switch
DWELL_MS = const(250)          # listening on one channel while scanning (a probe, its answers)
ANSWER_MS = const(100)         # probes are answered within a random 0..ANSWER_MS
QUIET_MS = const(20000)        # silence before a node looks for its mesh
QUIET_MAX_MS = const(600000)   # the wait grows (doubling) after scans that found nobody
MAX_ORIGINS = const(4)         # gateways whose latest move is remembered


def encode_move(origin, boot, n, channel, delay_ms):
    return struct.pack(_MOVE, K_MOVE, bytes(origin), boot & 0xFFFFFFFF, n & 0xFFFF, channel,
                       max(0, min(delay_ms, 0xFFFF)))


def decode(payload):
    """-> (K_MOVE, origin, boot, n, channel, delay) | (K_PROBE,) | (K_HERE, channel)."""
    if not payload:
        raise FrameError("malformed")
    kind = payload[0]
    if kind == K_MOVE and len(payload) == _MOVE_LEN:
        msg = struct.unpack(_MOVE, payload)
        channel = msg[4]
    elif kind == K_PROBE and len(payload) == 1:
        return (K_PROBE,)
    elif kind == K_HERE and len(payload) == 2:
        channel = payload[1]
        msg = (K_HERE, channel)
    else:
        raise FrameError("malformed")
    if not FIRST <= channel <= LAST:
        raise FrameError("malformed")
    return msg


class ChannelFollow:
    def __init__(self, node, parts, now_ms, quiet_ms=QUIET_MS):
        self.node = node
        self.parts = parts
        self.quiet_ms = quiet_ms
        self.pinned = False         # the port's radio is held (a joined station): no switch, no scan
        self._wait_ms = quiet_ms    # silence before the next scan (grows after empty scans)
        self._heard = now_ms        # an authenticated frame was last heard then (or we started)
        self._moves = {}            # origin -> (boot, n) of its newest move
        self._n = 0                 # our own moves this boot
        self._switch = None         # (at ms, channel): a move we follow
        self._relay = None          # (at ms, origin, boot, n, channel, switch at)
        self._answer_at = None
        self._scan = None           # channels still to visit, the home channel last
        self._step_at = None        # the scan's next switch
        self._probe_at = None       # a probe once the radio is on the new channel

    @property
    def channel(self):
        return self.node.config.channel

    def moving_to(self):
        """The channel of the move we wait for, or None."""
        return None if self._switch is None else self._switch[1]

    def follow(self, channel):
        """The port's radio is on `channel` already (a station joined): note it."""
        self._set(channel, None)

    # ------------------------------------------------------------ our move
    def announce(self, channel, now_ms):
        """Move the mesh (and us) to `channel` in MOVE_DELAY_MS -> frames."""
        if not FIRST <= channel <= LAST:
            raise ValueError("channel must be from 1 to 13")
        self._n = (self._n + 1) & 0xFFFF
        node = self.node
        self._moves[node.id] = (node.boot, self._n)
        self._switch = (now_ms + MOVE_DELAY_MS, channel)
        node.count("channel_announced")
        return self.parts.send(BROADCAST, T_CHANNEL, encode_move(node.id, node.boot, self._n, channel,
                                                                 MOVE_DELAY_MS))

    # ------------------------------------------------------------ receive
    def decode(self, payload):
        return decode(payload)

    def handle(self, sender, msg, now_ms):
        self._heard = now_ms
        kind = msg[0]
        if kind == K_MOVE:
            self._on_move(msg, now_ms)
        elif kind == K_PROBE:
            if self._answer_at is None and self._scan is None:
                self._answer_at = now_ms + self.node.rng.below(ANSWER_MS + 1)
        else:
            self._answer_at = None      # someone answered: ours would add nothing
        return []

    def _on_move(self, msg, now_ms):
        _kind, origin, boot, n, channel, delay = msg
        old = self._moves.get(origin)
        if origin == self.node.id or (old is not None and not _newer(boot, n, old[0], old[1])):
            self.node.count("channel_old")
            return
        if old is None and len(self._moves) >= MAX_ORIGINS:
            self._moves.pop(next(iter(self._moves)))
        self._moves[origin] = (boot, n)
        if self.pinned or channel == self.channel:
            return                      # a held radio cannot follow; on it already: nothing to do
        at = now_ms + delay
        self._switch = (at, channel)
        self._stop_scan()
        if delay >= MIN_RELAY_MS:
            jitter = self.node.rng.below(self.node.config.relay_jitter_ms + 1)
            self._relay = (now_ms + jitter, origin, boot, n, channel, at)

    # ------------------------------------------------------------ timers
    def tick(self, now_ms):
        out = []
        self._note_heard()
        if self._relay is not None and now_ms >= self._relay[0]:
            _at, origin, boot, n, channel, switch_at = self._relay
            self._relay = None
            out += self.parts.send(BROADCAST, T_CHANNEL,
                                   encode_move(origin, boot, n, channel, switch_at - now_ms))
        if self._switch is not None and now_ms >= self._switch[0]:
            channel = self._switch[1]
            self._switch = None
            self._set(channel, "move")
            self._heard = now_ms        # give the moved mesh its quiet time
        if self._answer_at is not None and now_ms >= self._answer_at:
            self._answer_at = None
            out += self.parts.send(BROADCAST, T_CHANNEL, bytes((K_HERE, self.channel)))
        if self._probe_at is not None and now_ms >= self._probe_at:
            self._probe_at = None
            out += self.parts.send(BROADCAST, T_CHANNEL, bytes((K_PROBE,)))
        self._scan_step(now_ms)
        return out

    def _scan_step(self, now_ms):
        if self.pinned or self._switch is not None:
            self._stop_scan()           # held, or moving anyway: the silence so far does not count
            self._heard = now_ms
            return
        if self._scan is None:
            if now_ms - self._heard >= self._wait_ms:
                self._start_scan(now_ms)
            return
        if now_ms < self._step_at:
            return
        if self._heard >= self._step_at - DWELL_MS:
            self._found()               # someone spoke on this channel: the mesh is here
        elif not self._scan:
            self._stop_scan()           # back home; look again after a longer wait
            self._wait_ms = min(QUIET_MAX_MS, self._wait_ms * 2)
            self._heard = now_ms
        else:
            self._set(self._scan.pop(0), "scan")
            self._probe_at = now_ms + 1     # after the port moved the radio
            self._step_at = now_ms + DWELL_MS

    def _start_scan(self, now_ms):
        home = self.channel
        others = list(range(home + 1, LAST + 1)) + list(range(FIRST, home))
        self._scan = others + [home]
        self._probe_at = now_ms         # the home channel first: maybe only we went quiet
        self._step_at = now_ms + DWELL_MS
        self.node.count("channel_scans")

    def _found(self):
        self._stop_scan()
        self._wait_ms = self.quiet_ms
        self.node.emit(("channel", self.channel, "found"))

    def _stop_scan(self):
        self._scan = self._step_at = self._probe_at = None

    def _note_heard(self):
        for n in self.node.neighbours.values():
            if n.last_ms > self._heard:
                self._heard = n.last_ms

    def _set(self, channel, why):
        if channel != self.channel:
            self.node.config.channel = channel
            if why is not None:
                self.node.emit(("channel", channel, why))

    def next_deadline(self):
        d = self._heard + self._wait_ms if self._scan is None else self._step_at
        for t in (self._relay and self._relay[0], self._switch and self._switch[0],
                  self._answer_at, self._probe_at):
            if t is not None and t < d:
                d = t
        return d

    def snapshot(self):
        return (self.channel, self.pinned, self._switch, self._relay, self._answer_at, self._scan,
                self._step_at, self._probe_at, self._wait_ms, sorted(self._moves.items()))


def _newer(boot, n, old_boot, old_n):
    if boot != old_boot:
        return boot > old_boot
    return n != old_n and ((n - old_n) & 0xFFFF) < 0x8000


def attach(node, now_ms, quiet_ms=QUIET_MS):
    """Plug channel following into node's mesh policy. -> the part."""
    part = ChannelFollow(node, node.policy.parts, now_ms, quiet_ms)
    node.policy.plug(T_CHANNEL, part)
    return part
