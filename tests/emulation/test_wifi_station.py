"""The emulated access point (NOWMESH_AP / `nowmesh emulate --ap`) and
network.WLAN(STA_IF) joining it, run by the real micropython against the medium."""
import socket

import pytest
from conftest import links_topology

from nowmesh.emulation.mesh import parse_ap
from nowmesh.errors import InputError

PAIR = links_topology(["a", "b"], [("a", "b", -60)])
AP = {"NOWMESH_AP": "home:secret:6"}

JOIN_SCRIPT = """
def attempt(call):
    try:
        return ('ok', call())
    except OSError as err:
        return ('OSError',) + tuple(err.args)
def join(ssid, key):
    w.connect(ssid, key)
    seen = [w.status()]
    t0 = time.ticks_ms()
    while w.status() == network.STAT_CONNECTING and time.ticks_diff(time.ticks_ms(), t0) < 5000:
        time.sleep_ms(20)
    seen.append(w.status())
    return seen
w = network.WLAN(network.STA_IF)
result('inactive', attempt(lambda: w.connect('home', 'secret')), attempt(w.scan))
w.active(True)
result('scan', w.scan())
result('wrong', join('home', 'wrong'), w.isconnected(), w.config('channel'))
result('unknown', join('other', 'secret'), w.isconnected())
result('right', join('home', 'secret'), w.isconnected(), w.config('channel'), w.config('ssid'),
       w.ifconfig()[0])
w.disconnect()
result('after', w.isconnected(), w.status())
"""


def results_of(node):
    node.finish()
    found = {}
    for line in node.text().splitlines():
        if line.startswith("RESULT"):
            values = eval(line[len("RESULT"):])          # noqa: S307 - our own script
            found[values[0]] = values[1:]
    return found


def test_station_joins_the_emulated_access_point_like_a_board(emulation):
    emu = emulation(PAIR)
    found = results_of(emu.start("a", JOIN_SCRIPT, env=AP))
    assert found["inactive"] == (("OSError", "Wifi Not Started"), ("OSError", "Wifi Not Started"))
    assert found["scan"] == ([(b"home", bytes.fromhex("024e4da90001"), 6, -55, 3, False)],)
    # connect() returns at once; a wrong password ends in a status, not a hang, and
    # leaves the radio where it was
    assert found["wrong"] == ([1001, 202], False, 1)
    assert found["unknown"] == ([1001, 201], False)
    assert found["right"] == ([1001, 1010], True, 6, "home", "127.0.0.1")
    assert found["after"] == (False, 1000)


def test_joining_moves_the_radio_to_the_access_points_channel(emulation):
    """A node that joined hears only nodes on the AP's channel (ESP-NOW beside a station)."""
    emu = emulation(PAIR)
    listener = emu.start("b", """
        w, e = up()
        w.config(channel=6)
        ready()
        result(e.irecv(5000)[1] is not None)
    """)
    listener.wait_for("READY")
    sender = emu.start("a", """
        w, e = up()
        w.connect('home', 'secret')
        while not w.isconnected():
            time.sleep_ms(20)
        e.add_peer(BCAST)
        e.send(BCAST, b'on six')
        result(w.config('channel'))
    """, env=AP)
    assert sender.result() == 6
    assert listener.result() is True
    sender.finish()
    listener.finish()


def test_a_joined_nodes_sockets_reach_the_hosts_loopback(emulation):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    emu = emulation(PAIR)
    node = emu.start("a", """
        import socket
        w = network.WLAN(network.STA_IF)
        w.active(True)
        w.connect('home', 'secret')
        while not w.isconnected():
            time.sleep_ms(20)
        s = socket.socket()
        s.connect(socket.getaddrinfo(w.ifconfig()[2], %d)[0][-1])
        s.send(b'hello broker')
        s.close()
        result('sent')
    """ % port, env=AP)
    server.settimeout(15)
    conn, _ = server.accept()
    with conn:
        assert conn.recv(64) == b"hello broker"
    assert node.result() == "sent"
    node.finish()
    server.close()


@pytest.mark.parametrize("text", ["home:6", "home:pw:0", "home:pw:15", ":pw:6", "home:pw:x"])
def test_bad_ap_option_is_one_clear_error(text):
    with pytest.raises(InputError):
        parse_ap(text)


def test_ap_option_parses_ssid_password_channel():
    assert parse_ap("home:secret:6") == ("home", "secret", 6)
    assert parse_ap("cafe::11") == ("cafe", "", 11)
    assert parse_ap("my:net:pass:1") == ("my", "net:pass", 1)
