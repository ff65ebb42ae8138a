# Loop-free distance-vector routes with Babel's feasibility condition
# (RFC 8966 section 3.5). Route announcements are not separate frames: every
# relayed reading carries its origin's sequence number (boot, seq) and the
# relay's own metric to that origin, so readings flooding through the relay
# set double as Babel updates and every node learns a route to every origin.
#
# Per destination (16 bytes, packed): next hop id, metric, (boot, seq) of the
# route, and the feasibility distance FD = (boot, seq, metric): the best
# metric we have had for the newest seqno. An update (s, m) from neighbour N
# is feasible when s is newer than FD's seqno, or equal with m < FD metric.
# Only feasible updates are selected, and a node's advertised metric is never
# below its own FD, so along any chain of next hops the (seqno, metric) pairs
# strictly decrease and no chain can close into a loop.
import struct
from micropython import const

from .store import raw_newer

_FMT = "<6sBBHHHH"   # nh, metric, fd_metric, boot, seq, fd_boot, fd_seq
_NONE = b"\x00" * 6
INFINITY = const(255)


class RouteTable:
    def __init__(self, max_entries):
        self.max_entries = max_entries
        self.table = {}  # destination id -> bytearray(16)

    def __len__(self):
        return len(self.table)

    def get(self, dst):
        """-> (next hop id, metric) or None."""
        e = self.table.get(dst)
        if e is None or e[:6] == _NONE:
            return None
        return bytes(e[:6]), e[6]

    def update(self, dst, boot, seq, adv_metric, nh, link_cost):
        """An announcement of dst heard from neighbour nh. True if selected."""
        if adv_metric >= INFINITY or link_cost >= INFINITY:
            return False
        cand = min(INFINITY - 1, adv_metric + link_cost)
        e = self.table.get(dst)
        if e is None:
            if len(self.table) >= self.max_entries:
                self._evict()
            e = bytearray(16)
            struct.pack_into(_FMT, e, 0, nh, cand, cand, boot, seq, boot, seq)
            self.table[dst] = e
            return True
        cur_nh, metric, fd_m, r_boot, r_seq, fd_boot, fd_seq = struct.unpack_from(_FMT, e, 0)
        newer_fd = raw_newer(boot, seq, fd_boot, fd_seq)
        feasible = newer_fd or (boot == fd_boot and seq == fd_seq and adv_metric < fd_m)
        if not feasible:
            if cur_nh == nh:
                e[0:6] = _NONE   # our next hop went unfeasible: no route until a feasible one
            return False
        # Babel selects the best feasible route. With one slot per destination
        # a newer seqno always wins (the reading we relay must be advertised
        # with the metric of a route of that same seqno), and a copy of the
        # same seqno over a better path replaces it.
        newer = raw_newer(boot, seq, r_boot, r_seq)
        if cur_nh != nh and cur_nh != _NONE and not newer and cand >= metric:
            return False
        if newer_fd:
            fd_boot, fd_seq, fd_m = boot, seq, cand
        else:
            fd_m = min(fd_m, cand)
        struct.pack_into(_FMT, e, 0, nh, cand, fd_m, boot, seq, fd_boot, fd_seq)
        return True

    def advertised(self, dst, boot, seq):
        """Metric to announce with dst's reading (boot, seq): our route's, if it
        is of that very seqno; otherwise INFINITY (Babel never pairs a seqno
        with the metric of an older route: that would break the invariant)."""
        e = self.table.get(dst)
        if e is None or e[:6] == _NONE:
            return INFINITY
        _nh, metric, _fm, r_boot, r_seq, _fb, _fs = struct.unpack_from(_FMT, e, 0)
        return metric if (r_boot, r_seq) == (boot, seq) else INFINITY

    def metric(self, dst):
        e = self.table.get(dst)
        return INFINITY if e is None or e[:6] == _NONE else e[6]

    def drop_via(self, nh):
        """nh is gone: routes through it are withdrawn (FDs are kept)."""
        for e in self.table.values():
            if e[:6] == nh:
                e[0:6] = _NONE

    def forget(self, dst):
        self.table.pop(dst, None)

    def _evict(self):
        victim = None
        for k, e in self.table.items():
            victim = k
            if e[:6] == _NONE:
                break
        if victim is not None:
            del self.table[victim]

    def snapshot(self):
        return sorted([(k, bytes(e)) for k, e in self.table.items()])
