# An object count of a Node's state, priced with MicroPython's allocation
# rules for a 64-bit build (this host) and a 32-bit one (an ESP32), to say how
# much of the measured heap_bytes the word size explains. Runs under
# micropython next to gc.mem_alloc(): the 64-bit price is checked against the
# measured figure, then the same objects are priced at 32 bits.
#
# Prices (py/obj*.h, py/map.c, py/gc.c): the GC allocates whole blocks of
# 4 words (32 B on 64-bit, 16 B on 32-bit). bytes/str: a 4-word header plus a
# separate len+1 data block; bytearray: 4-word header plus data; tuple: 2 + n
# words; list: 4-word header plus its item array (grown by doubling from 4);
# dict and instance attributes: a hash table of 2 words per slot, grown to the
# next size of map.c's prime table when full; boxed float: 2 words; long int
# (beyond 62 or 30 bits): header block plus digit block. Code (functions,
# classes, modules) is not state and is not counted.

_PRIMES = (0, 2, 4, 6, 8, 10, 12, 17, 23, 29, 37, 47, 59, 73, 97, 127, 167, 223, 293, 389, 521, 683, 907,
           1151, 1567, 2053, 2731, 3637, 4801, 6379, 8501, 11369, 15193, 20293)


def _map_slots(n):
    for p in _PRIMES:
        if p >= n:
            return p
    return n


def _list_slots(n):
    a = 4
    while a < n:
        a *= 2
    return a


class Pricer:
    def __init__(self, word):
        self.word = word
        self.block = 4 * word
        self.small_bits = 8 * word - 2
        self.bytes = 0
        self.objects = 0

    def alloc(self, size):
        self.objects += 1
        self.bytes += (size + self.block - 1) // self.block * self.block

    def price(self, obj, kind, n=0):
        w = self.word
        if kind == "bytes":
            self.alloc(4 * w)
            self.alloc(n + 1)
        elif kind == "bytearray":
            self.alloc(4 * w)
            if n:
                self.alloc(n)
        elif kind == "tuple":
            self.alloc((2 + n) * w)
        elif kind == "list":
            self.alloc(4 * w)
            self.alloc(_list_slots(n) * w)
        elif kind == "map":          # dict (header + table) or instance (header + table)
            self.alloc(4 * w)
            if n:
                self.alloc(_map_slots(n) * 2 * w)
        elif kind == "float":
            self.alloc(2 * w if w == 8 else w + 4)
        elif kind == "int":
            if not -(1 << self.small_bits) <= obj < (1 << self.small_bits):
                self.alloc(4 * w)
                self.alloc(16)
        elif kind == "boundmeth":
            self.alloc(3 * w)




def _kind(obj):
    t = type(obj)
    if t is bytes or t is str:
        return "bytes", len(obj)
    if t is bytearray:
        return "bytearray", len(obj)
    if t is tuple:
        return "tuple", len(obj)
    if t is list:
        return "list", len(obj)
    if t is dict:
        return "map", len(obj)
    if t is float:
        return "float", 0
    if t is int:
        return "int", 0
    if obj is None or t is bool:
        return None, 0
    if t.__name__ in ("bound_method", "method"):
        return "boundmeth", 0
    if callable(obj):                 # functions, closures, classes: code, not state
        return None, 0
    if hasattr(obj, "__dict__"):
        return "instance", len(obj.__dict__)
    return None, 0                    # C objects (hash, AES): not walked


def walk(root, pricers):
    """Price every object reachable from root once, in each pricer."""
    seen = {}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen[id(obj)] = True
        kind, n = _kind(obj)
        if kind is None:
            continue
        for p in pricers:
            p.price(obj, "map" if kind == "instance" else kind, n)
        if kind in ("tuple", "list"):
            stack.extend(obj)
        elif kind == "map":
            for k in obj:
                stack.append(k)
                stack.append(obj[k])
        elif kind == "instance":
            for k in obj.__dict__:
                stack.append(obj.__dict__[k])


def price_state(root):
    """-> {'model_64bit': bytes, 'model_32bit': bytes, 'objects': n}."""
    p64, p32 = Pricer(8), Pricer(4)
    walk(root, (p64, p32))
    return {"model_64bit_bytes": p64.bytes, "model_32bit_bytes": p32.bytes, "allocations": p64.objects}
