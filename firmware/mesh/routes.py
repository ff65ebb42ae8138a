# Loop-free distance-vector routes with Babel's feasibility condition
# (RFC 8966 section 3.5). Route announcements are not separate frames: every
# relayed reading carries its origin's sequence number (boot, seq) and the
# relay's own metric to that origin, so readings flooding through the relay
# set double as Babel updates and every node learns a route to every origin.
#
# Per destination we keep the next hop, the route metric and the feasibility
# distance FD = (seqno, metric): the best metric we have had for the newest
# seqno. An update (s, m) from neighbour N is feasible when s is newer than
# FD's seqno, or equal with m < FD's metric. Only feasible updates are
# selected, and a node's advertised metric is never below its own FD, so
# along any chain of next hops the (seqno, metric) pairs strictly decrease
# and no chain can close into a loop. The selected route always carries FD's
# seqno (a newer seqno always wins the one slot we keep).
#
# Memory: one int per destination, no object: next hop as the neighbour
# table's small slot number (10 bits), metric, FD metric, FD seqno
# (boot16 << 16 | seq16). 58 bits: an immediate small int on 64-bit
# MicroPython, a small long on 32-bit boards.
from micropython import const

from .store import raw_newer

INFINITY = const(255)
_NO_SLOT = const(0x3FF)


def _pack(slot, metric, fd_metric, boot, seq):
    return (((((slot << 8) | metric) << 8 | fd_metric) << 16 | boot) << 16) | seq


def _unpack(v):
    return v >> 48, (v >> 40) & 0xFF, (v >> 32) & 0xFF, (v >> 16) & 0xFFFF, v & 0xFFFF


class RouteTable:
    def __init__(self, max_entries, neighbours):
        self.max_entries = max_entries
        self.nbrs = neighbours   # NeighbourTable: slot <-> neighbour
        self.table = {}          # destination id -> packed int

    def __len__(self):
        return len(self.table)

    def get(self, dst):
        """-> (next hop id, metric) or None."""
        v = self.table.get(dst)
        if v is None:
            return None
        slot, metric, _fm, _b, _s = _unpack(v)
        n = self.nbrs.by_slot(slot)
        return None if n is None else (n.id, metric)

    def update(self, dst, boot, seq, adv_metric, nh, link_cost):
        """An announcement of dst heard from neighbour nh. True if selected."""
        if adv_metric >= INFINITY or link_cost >= INFINITY:
            return False
        n = self.nbrs.get(nh)
        if n is None:
            return False
        cand = min(INFINITY - 1, adv_metric + link_cost)
        v = self.table.get(dst)
        if v is None:
            if len(self.table) >= self.max_entries:
                self._evict()
            self.table[dst] = _pack(n.slot, cand, cand, boot, seq)
            return True
        cur, metric, fd_m, fd_boot, fd_seq = _unpack(v)
        newer = raw_newer(boot, seq, fd_boot, fd_seq)
        feasible = newer or (boot == fd_boot and seq == fd_seq and adv_metric < fd_m)
        if not feasible:
            if cur == n.slot:     # our next hop went unfeasible: no route until a feasible one
                self.table[dst] = _pack(_NO_SLOT, metric, fd_m, fd_boot, fd_seq)
            return False
        if cur != n.slot and cur != _NO_SLOT and not newer and cand >= metric:
            return False
        if newer:
            fd_boot, fd_seq, fd_m = boot, seq, cand
        else:
            fd_m = min(fd_m, cand)
        self.table[dst] = _pack(n.slot, cand, fd_m, fd_boot, fd_seq)
        return True

    def advertised(self, dst, boot, seq):
        """Metric to announce with dst's reading (boot, seq): our route's, if it
        is of that very seqno; otherwise INFINITY (Babel never pairs a seqno
        with the metric of an older route: that would break the invariant)."""
        v = self.table.get(dst)
        if v is None:
            return INFINITY
        slot, metric, _fm, r_boot, r_seq = _unpack(v)
        if slot == _NO_SLOT or (r_boot, r_seq) != (boot, seq):
            return INFINITY
        return metric

    def drop_via(self, slot):
        """The neighbour in `slot` is gone: its routes are withdrawn (FDs kept)."""
        for dst in [d for d, v in self.table.items() if v >> 48 == slot]:
            v = self.table[dst]
            self.table[dst] = (_NO_SLOT << 48) | (v & 0xFFFFFFFFFFFF)

    def forget(self, dst):
        self.table.pop(dst, None)

    def _evict(self):
        victim = None
        for k, v in self.table.items():
            victim = k
            if v >> 48 == _NO_SLOT:
                break
        if victim is not None:
            del self.table[victim]

    def entries(self):
        """[(dst, next hop id, metric)] of the routes in use (withdrawn ones
        and those whose next hop left the neighbour table are skipped)."""
        out = []
        for dst, v in self.table.items():
            n = self.nbrs.by_slot(v >> 48)
            if n is not None:
                out.append((dst, n.id, (v >> 40) & 0xFF))
        return out

    def snapshot(self):
        return sorted(self.table.items())


def estimate_hops(metric, direct):
    """Radio hops of a route, estimated from its metric (the sum of its links'
    costs in 1/8 ETX units). Links a mesh routes over average about ETX 1.1
    (cost 9), so hops ~ metric / 9; and as no link costs less than 8, never
    more than metric // 8. Steady, unlike the cost of any one link right now."""
    if direct:
        return 1
    return max(2, min(metric // 8, (metric * 2 + 9) // 18))
