"""The emulated espnow/network modules' API and errors, as MicroPython raises them.

Error codes are ESP-IDF's (ESP_ERR_ESPNOW_BASE = 0x3064), raised as
OSError(-code, name) like ports/esp32's check_esp_err().
"""
from conftest import links_topology

SOLO = links_topology(["a", "b"], [("a", "b", -70)])
BASE = 0x3064
CODES = {name: -(BASE + k + 1) for k, name in enumerate(
    ("NOT_INIT", "ARG", "NO_MEM", "FULL", "NOT_FOUND", "INTERNAL", "EXIST", "IF", "CHAN"))}

ERRORS_SCRIPT = """
def attempt(call):
    try:
        return ('ok', call())
    except OSError as err:
        return ('OSError',) + tuple(err.args)
    except ValueError as err:
        return ('ValueError',)
    except TypeError as err:
        return ('TypeError',)
e = espnow.ESPNow()
w = network.WLAN(network.STA_IF)
result('before_init', attempt(lambda: e.send(BCAST, b'x')))
result('recv_before_init', attempt(lambda: e.recv(0)))
result('add_before_init', attempt(lambda: e.add_peer(BCAST)))
result('active', e.active(), e.active(True), e.active())
e.add_peer(BCAST)
result('send_wlan_down', attempt(lambda: e.send(BCAST, b'x')))
w.active(True)
result('too_long', attempt(lambda: e.send(BCAST, bytes(251))))
result('empty', attempt(lambda: e.send(BCAST, b'')))
result('max_len', attempt(lambda: e.send(BCAST, bytes(espnow.MAX_DATA_LEN))))
result('not_found', attempt(lambda: e.send(mac(1), b'x')))
result('bad_mac', attempt(lambda: e.send(b'short', b'x')))
result('exist', attempt(lambda: e.add_peer(BCAST)))
result('encrypt_bcast', attempt(lambda: e.mod_peer(BCAST, encrypt=True)))
for i in range(1, espnow.MAX_TOTAL_PEER_NUM):
    e.add_peer(mac(i), b'0123456789abcdef' if i <= 6 else None)
result('count', e.peer_count())
result('full', attempt(lambda: e.add_peer(mac(50))))
e.del_peer(mac(19))
result('encrypt_full', attempt(lambda: e.add_peer(mac(50), b'0123456789abcdef')))
result('bad_lmk', attempt(lambda: e.add_peer(mac(50), b'short key')))
result('get_peer', e.get_peer(mac(1)), e.get_peer(mac(7)))
result('get_missing', attempt(lambda: e.get_peer(mac(19))), attempt(lambda: e.del_peer(mac(19))))
peers = e.get_peers()
result('get_peers', len(peers), BCAST in [p[0] for p in peers])
e.mod_peer(mac(7), channel=3)
result('chan', attempt(lambda: e.send(mac(7), b'x')))
e.mod_peer(mac(7), channel=0, ifidx=1)
result('ap_if_down', attempt(lambda: e.send(mac(7), b'x')))
result('bad_channel', attempt(lambda: e.mod_peer(mac(7), channel=15)))
t0 = time.ticks_ms()
result('timeout', e.recv(200), e.irecv(0), time.ticks_diff(time.ticks_ms(), t0) >= 190)
result('config', e.config('rxbuf'), e.config('timeout_ms'), attempt(lambda: e.config('nope')))
e.config(timeout_ms=50, rxbuf=1000)
result('config_set', e.config('timeout_ms'), e.config('rxbuf'), next(iter(e)))
result('pmk', attempt(lambda: e.set_pmk(b'0123456789abcdef')), attempt(lambda: e.set_pmk(b'x')))
result('irq', attempt(lambda: e.irq(42)))
result('consts', espnow.MAX_DATA_LEN, espnow.KEY_LEN, espnow.ADDR_LEN, espnow.MAX_TOTAL_PEER_NUM,
       espnow.MAX_ENCRYPT_PEER_NUM)
result('wlan', w.config('mac'), network.WLAN(network.AP_IF).config('mac'), w.isconnected(),
       w.config('pm'), w.PM_NONE, attempt(lambda: w.config('nope')))
result('stats', e.stats())
result('deinit', e.active(False), attempt(lambda: e.get_peers()), e.active(True), len(e.get_peers()))
result('same_driver', espnow.ESPNow().config('timeout_ms'))
"""


def test_errors_and_configuration(emulation):
    emu = emulation(SOLO)
    node = emu.start("a", ERRORS_SCRIPT)
    node.finish()
    results = {}
    for line in node.text().splitlines():
        if line.startswith("RESULT"):
            values = eval(line[len("RESULT"):])          # noqa: S307 - our own script
            results[values[0]] = values[1:]
    err = {name: ("OSError", code, "ESP_ERR_ESPNOW_" + name) for name, code in CODES.items()}

    assert results["before_init"] == (err["NOT_INIT"],)
    assert results["recv_before_init"] == (err["NOT_INIT"],)
    assert results["add_before_init"] == (err["NOT_INIT"],)
    assert results["active"] == (False, True, True)
    assert results["send_wlan_down"] == (err["IF"],)
    # modespnow.c passes the length to esp_now_send(), which refuses > 250 and 0 bytes.
    assert results["too_long"] == (err["ARG"],)
    assert results["empty"] == (err["ARG"],)
    assert results["max_len"] == (("ok", True),)
    assert results["not_found"] == (err["NOT_FOUND"],)
    assert results["bad_mac"] == (("ValueError",),)
    assert results["exist"] == (err["EXIST"],)
    assert results["encrypt_bcast"] == (err["ARG"],)
    assert results["count"] == ((20, 6),)
    assert results["full"] == (err["FULL"],)
    assert results["encrypt_full"] == (err["FULL"],)
    assert results["bad_lmk"] == (("ValueError",),)
    key = b"0123456789abcdef"
    assert results["get_peer"] == ((emu.mac("b"), key, 0, 0, True), (bytes((2, 0x4E, 0x4D, 0, 0, 8)), bytes(16), 0, 0, False))
    assert results["get_missing"] == (err["NOT_FOUND"], err["NOT_FOUND"])
    assert results["get_peers"] == (18, False)       # broadcast peers are not listed
    assert results["chan"] == (err["CHAN"],)
    assert results["ap_if_down"] == (err["IF"],)
    assert results["bad_channel"] == (err["ARG"],)
    assert results["timeout"] == ((None, None), (None, None), True)
    assert results["config"] == (526, 300000, ("ValueError",))
    assert results["config_set"] == (50, 1000, (None, None))
    assert results["pmk"] == (("ok", None), ("ValueError",))
    assert results["irq"] == (("ValueError",),)
    assert results["consts"] == (250, 16, 6, 20, 6)
    assert results["wlan"] == (emu.mac("a"), emu.mac("a")[:5] + b"\x02", False, 1, 0, ("ValueError",))
    assert results["stats"] == ((1, 1, 0, 0, 0),)
    assert results["deinit"] == (False, err["NOT_INIT"], True, 0)
    assert results["same_driver"] == (50,)


def test_send_to_all_peers_and_buffer_reuse(emulation):
    topology = links_topology(["a", "b", "c"], [("a", "b", -60), ("a", "c", -61), ("b", "c", -62)])
    emu = emulation(topology)
    listeners = [emu.start(name, """
        w, e = up()
        ready()
        first = e.irecv(5000)
        msg_object = first[1]
        kept = bytes(first[1])
        second = e.irecv(5000)
        result(kept, bytes(second[1]), first is second, second[1] is msg_object)
    """) for name in ("b", "c")]
    for node in listeners:
        node.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(BCAST)
        e.add_peer(mac(1))
        e.add_peer(mac(2))
        result(e.send(b'to every peer'), e.send(None, b'again', True), e.stats()[:3])
    """)
    assert a.result() == (True, True, (4, 4, 0))
    for node in listeners:
        # irecv() hands back the same list and bytearray each time: copy what you keep
        assert node.result() == (b"to every peer", b"again", True, True)
        node.finish()
    a.finish()


def test_wlan_config_mac_rebinds_the_node_at_the_medium(emulation):
    from nowmesh.emulation.control import MediumControl
    emu = emulation(SOLO)
    node = emu.start("a", """
        w = network.WLAN(network.STA_IF)
        w.active(True)
        w.config(mac=mac(1), txpower=8.5)
        result(w.config('mac'), w.config('txpower'), w.config('channel'))
        sys.stdin.readline()
    """)
    assert node.result() == (emu.mac("b"), 8.5, 1)
    with MediumControl(emu.server.address) as control:
        connected = [n["connected"] for n in control.status()["nodes"]]
    assert connected == [False, True]
    node.send_line("bye")
    node.finish()
