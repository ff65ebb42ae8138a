# Direct neighbours: nodes whose frames we received ourselves (the sealed
# sender of a frame is always its last transmitter). Bounded; emits
# ('neighbour', id, 'up'|'down') events through the callback given.


class Neighbour:
    def __init__(self, node_id, mac, rssi, now_ms):
        self.id = node_id
        self.mac = mac
        self.name = None
        self.rssi = rssi
        self.last_ms = now_ms
        self.first_ms = now_ms
        self.frames = 0

    def as_tuple(self):
        return (self.id, self.mac, self.name, self.rssi, self.last_ms, self.first_ms, self.frames)


class NeighbourTable:
    def __init__(self, max_entries, timeout_ms, emit):
        self.max_entries = max_entries
        self.timeout_ms = timeout_ms
        self._emit = emit
        self.table = {}  # id -> Neighbour

    def __len__(self):
        return len(self.table)

    def get(self, node_id):
        return self.table.get(node_id)

    def heard(self, node_id, mac, rssi, now_ms):
        n = self.table.get(node_id)
        if n is None:
            if len(self.table) >= self.max_entries:
                self._drop(self._least_recent())
            n = Neighbour(node_id, bytes(mac), rssi, now_ms)
            self.table[node_id] = n
            self._emit(("neighbour", node_id, "up"))
        n.mac = bytes(mac)
        n.rssi = rssi
        n.last_ms = now_ms
        n.frames += 1
        return n

    def _least_recent(self):
        oldest = None
        for n in self.table.values():
            if oldest is None or n.last_ms < oldest.last_ms:
                oldest = n
        return oldest.id

    def _drop(self, node_id):
        del self.table[node_id]
        self._emit(("neighbour", node_id, "down"))

    def expire(self, now_ms):
        for node_id in [k for k, n in self.table.items() if now_ms - n.last_ms >= self.timeout_ms]:
            self._drop(node_id)

    def next_deadline(self):
        if not self.table:
            return None
        return min([n.last_ms for n in self.table.values()]) + self.timeout_ms

    def snapshot(self):
        return sorted([n.as_tuple() for n in self.table.values()])
