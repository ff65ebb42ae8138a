"""The medium server and its wire protocol, spoken from CPython sockets and from MicroPython."""
import json
import socket
import subprocess
import sys
import time

import pytest

from nowmesh.emulation.medium import protocol
from nowmesh.emulation.control import MediumControl, MediumError

from conftest import UPY_MODULES, links_topology, micropython_binary

A = bytes.fromhex("024e4d000001")
B = bytes.fromhex("024e4d000002")

GOLDEN = [
    (protocol.hello(A), "0007 01 024e4d000001"),
    (protocol.hello(A, 1470), "0009 01 024e4d000001 05be"),
    (protocol.rate(0x29), "0002 05 29"),
    (protocol.protocol_bits(0x0f), "0002 06 0f"),
    (protocol.tx(258, B, b"hi", sync=False, key_id=b"K" * 8),
     "0016 03 00000102 02 024e4d000002 4b4b4b4b4b4b4b4b 6869"),
    (protocol.rx(A, -60, b"hi", key_id=b"K" * 8), "0012 85 024e4d000001 c4 4b4b4b4b4b4b4b4b 6869"),
    (protocol.channel(6), "0002 02 06"),
    (protocol.radio(True), "0002 04 01"),
    (protocol.tx(258, B, b"hi", sync=True), "000e 03 00000102 01 024e4d000002 6869"),
    (protocol.cut(B, True), "0008 10 024e4d000002 01"),
    (protocol.set_loss(0.25), "0005 12 0003d090"),
    (protocol.move(B, 1.5, -2), "000f 14 024e4d000002 00000096 ffffff38"),
    (protocol.partition({B: 2, A: 1}), "000f 15 024e4d000001 01 024e4d000002 02"),
    (protocol.welcome(1, 6), "0004 81 0001 06"),
    (protocol.rx(A, -60, b"hi"), "000a 82 024e4d000001 c4 6869"),
    (protocol.txdone(258, False), "0006 83 00000102 00"),
    (protocol.reply(True, "ok"), "0004 90 00 6f6b"),
]


@pytest.mark.parametrize("encoded, golden", GOLDEN)
def test_golden_vectors_round_trip(encoded, golden):
    assert encoded.hex() == golden.replace(" ", "")
    [(kind, body)] = protocol.Decoder().feed(encoded)
    assert protocol.encode(kind, body) == encoded
    protocol.parse(kind, body)


def test_decoder_reassembles_split_and_joined_messages():
    stream = protocol.rx(A, -60, b"x" * 250) + protocol.txdone(7, True)
    decoder = protocol.Decoder()
    messages = []
    for k in range(0, len(stream), 7):
        messages += decoder.feed(stream[k:k + 7])
    assert [kind for kind, _ in messages] == [protocol.RX, protocol.TXDONE]
    assert protocol.parse(*messages[0]) == (A, -60, b"x" * 250)
    assert protocol.parse(*messages[1]) == (7, True)


@pytest.mark.parametrize("data", [b"\x00\x00", b"\xff\xff\x01", b"\x00\x01\x7f"])
def test_bad_input_raises_protocol_error_only(data):
    with pytest.raises(protocol.ProtocolError):
        for kind, body in protocol.Decoder().feed(data):
            protocol.parse(kind, body)


def test_short_body_is_a_protocol_error():
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(protocol.TX, b"\x00" * 5)


UPY_LINK_SCRIPT = """
import _nowmesh_link as l
class FakeSocket:
    def __init__(self):
        self.sent = bytearray()
    def send(self, data):
        self.sent.extend(data)
        return len(data)
link = l.MediumLink()
link.sock = FakeSocket()
link.mac = bytes.fromhex('024e4d000001')
link.transmit(bytes.fromhex('024e4d000002'), b'hi', True)
link.transmit(bytes.fromhex('024e4d000002'), b'ho', False, b'K' * 8)
link.set_channel(6)
print(link.sock.sent.hex())
got = []
link.on_rx = lambda *a: got.append(a)
link.on_txdone = lambda *a: got.append(a)
data = bytes.fromhex('%s')
link._buffer = bytearray(2048)
link._buffer[:len(data)] = data
link._fill = len(data)
link._dispatch()
print(repr(got), link.index, link.channel)
"""


def test_micropython_link_speaks_the_same_protocol():
    incoming = (protocol.welcome(3, 11) + protocol.rx(A, -60, b"hi")
                + protocol.rx(A, -61, b"ho", key_id=b"K" * 8) + protocol.txdone(1, False)).hex()
    done = subprocess.run([micropython_binary(), "-c", UPY_LINK_SCRIPT % incoming], capture_output=True,
                          text=True, timeout=20, env={"MICROPYPATH": "%s:.frozen" % UPY_MODULES})
    assert done.returncode == 0, done.stderr + done.stdout
    sent, received = done.stdout.splitlines()
    assert bytes.fromhex(sent) == (protocol.tx(1, B, b"hi", sync=True)
                                   + protocol.tx(2, B, b"ho", sync=False, key_id=b"K" * 8)
                                   + protocol.channel(6))
    # The program chose channel 6, so the WELCOME's topology channel does not override it.
    assert received == ("[(b'\\x02NM\\x00\\x00\\x01', -60, b'hi', None), "
                        "(b'\\x02NM\\x00\\x00\\x01', -61, b'ho', b'KKKKKKKK'), (1, False)] 3 6")


class RawNode:
    """A node spoken for from CPython: HELLO, RADIO on, then raw messages."""

    def __init__(self, address, mac):
        self.sock = socket.create_connection(address, timeout=5)
        self.decoder = protocol.Decoder()
        self.pending = []
        self.sock.sendall(protocol.hello(mac))
        self.welcome = self.expect(protocol.WELCOME)
        self.sock.sendall(protocol.radio(True))

    def expect(self, kind):
        while True:
            for index, (got, body) in enumerate(self.pending):
                if got == kind:
                    del self.pending[index]
                    return protocol.parse(got, body)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("connection closed waiting for 0x%02x" % kind)
            self.pending += self.decoder.feed(data)


@pytest.fixture
def pair(emulation):
    emu = emulation(links_topology(["a", "b", {"name": "c", "channel": 3}], [("a", "b", -55)]))
    nodes = [RawNode(emu.server.address, A), RawNode(emu.server.address, B)]
    try:
        yield emu, nodes
    finally:
        for node in nodes:
            node.sock.close()


def test_unicast_ack_and_loss_through_raw_sockets(pair):
    emu, (a, b) = pair
    assert a.welcome == (0, 1) and b.welcome == (1, 1)
    a.sock.sendall(protocol.tx(5, B, b"frame"))
    assert b.expect(protocol.RX) == (A, -55, b"frame")
    assert a.expect(protocol.TXDONE) == (5, True)
    with MediumControl(emu.server.address) as control:
        control.set_loss(1.0)
        a.sock.sendall(protocol.tx(6, B, b"lost"))
        assert a.expect(protocol.TXDONE) == (6, False)
        status = control.status()
        assert status["loss"] == 1.0 and status["radio"]["mac_failures"] == 1
        with pytest.raises(MediumError, match="loss"):
            control.set_loss(2.0)
        with pytest.raises(MediumError, match="no node"):
            control.cut(bytes(6))


def test_kill_fails_queued_unicast_and_cuts_the_node(pair):
    emu, (a, b) = pair
    for token in range(1, 4):
        a.sock.sendall(protocol.tx(token, B, b"q%d" % token))
    with MediumControl(emu.server.address) as control:
        control.kill(A)
        oks = [a.expect(protocol.TXDONE) for _ in range(3)]
        assert [token for token, _ok in oks] == [1, 2, 3]
        a.sock.sendall(protocol.tx(9, B, b"after"))
        assert a.expect(protocol.TXDONE) == (9, False)       # cut: nobody hears it
        assert json.dumps(control.status()["nodes"][0]["cut"]) == "true"


def test_refuses_unknown_macs_and_tx_before_hello(emulation):
    emu = emulation(links_topology(["a"], []))
    with socket.create_connection(emu.server.address, timeout=5) as sock:
        sock.sendall(protocol.hello(bytes.fromhex("aabbccddeeff")))
        [(kind, body)] = protocol.Decoder().feed(sock.recv(4096))
        assert kind == protocol.ERROR and "no node" in protocol.parse(kind, body)[0]
        assert sock.recv(4096) == b""
    with socket.create_connection(emu.server.address, timeout=5) as sock:
        sock.sendall(protocol.tx(1, A, b"x"))
        [(kind, body)] = protocol.Decoder().feed(sock.recv(4096))
        assert kind == protocol.ERROR and "HELLO" in protocol.parse(kind, body)[0]


def test_a_second_process_with_the_same_mac_replaces_the_first(pair):
    emu, (a, b) = pair
    newcomer = RawNode(emu.server.address, A)
    try:
        assert "another process" in a.expect(protocol.ERROR)[0]
        newcomer.sock.sendall(protocol.tx(1, B, b"new"))
        assert b.expect(protocol.RX) == (A, -55, b"new")
        assert newcomer.expect(protocol.TXDONE) == (1, True)
    finally:
        newcomer.sock.close()


def test_command_line_server_writes_its_address_and_serves(tmp_path):
    address_file = tmp_path / "medium.addr"
    process = subprocess.Popen(
        [sys.executable, "-m", "nowmesh.emulation.medium.server", "--topology", "line", "--nodes", "2",
         "--address-file", str(address_file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not address_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
            time.sleep(0.02)
        host, port = address_file.read_text().strip().rsplit(":", 1)
        node = RawNode((host, int(port)), B)
        try:
            assert node.welcome == (1, 1)
        finally:
            node.sock.close()
    finally:
        process.kill()
        process.wait(10)
        process.stdout.close()


def test_command_line_rejects_a_bad_topology_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nowmesh.emulation.medium.server", "--topology",
                           str(tmp_path / "missing.json")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "file not found" in done.stderr


def test_positions_topology_rssi_is_the_radio_models(emulation):
    from nowmesh.radio import model as radio
    from nowmesh.radio.topology import line
    topology = line(2, 150.0)
    emu = emulation(topology, seed=4)
    expected = radio.clip_rssi(radio.RadioModel(topology, 4).rx_dbm(0, 1))
    a, b = RawNode(emu.server.address, A), RawNode(emu.server.address, B)
    try:
        a.sock.sendall(protocol.tx(1, protocol.BROADCAST, b"beacon"))
        assert b.expect(protocol.RX) == (A, expected, b"beacon")
        assert a.expect(protocol.TXDONE) == (1, True)
    finally:
        a.sock.close()
        b.sock.close()


def test_partition_silences_links_across_groups_until_healed(pair):
    emu, (a, b) = pair
    with MediumControl(emu.server.address) as control:
        control.partition({A: 1})                        # b stays in group 0
        a.sock.sendall(protocol.tx(1, B, b"across"))
        assert a.expect(protocol.TXDONE) == (1, False)   # unheard, so never ACKed
        groups = {n["name"]: n["group"] for n in control.status()["nodes"]}
        assert groups == {"a": 1, "b": 0, "c": 0}
        control.partition({A: 1, B: 1})                  # same side again
        a.sock.sendall(protocol.tx(2, B, b"same side"))
        assert b.expect(protocol.RX) == (A, -55, b"same side")
        control.partition({})                            # heal
        assert {n["group"] for n in control.status()["nodes"]} == {0}
        with pytest.raises(MediumError, match="no node"):
            control.partition({bytes(6): 1})
        with pytest.raises(MediumError, match="positions"):
            control.move(A, 10, 10)                      # a link table has no distances


def test_move_recomputes_rssi_from_the_new_distance(emulation):
    from nowmesh.radio import model as radio
    from nowmesh.radio.topology import line
    topology = line(2, 150.0)
    emu = emulation(topology, seed=4)
    model = radio.RadioModel(line(2, 150.0), 4)
    model.move(1, 40.0, 0.0)
    expected = radio.clip_rssi(model.rx_dbm(0, 1))
    a, b = RawNode(emu.server.address, A), RawNode(emu.server.address, B)
    try:
        with MediumControl(emu.server.address) as control:
            control.move(B, 40.0, 0.0)
            assert control.status()["nodes"][1]["position"] == [40.0, 0.0]
            a.sock.sendall(protocol.tx(1, protocol.BROADCAST, b"closer"))
            assert b.expect(protocol.RX) == (A, expected, b"closer")
            assert a.expect(protocol.TXDONE) == (1, True)
            control.move(B, 5000.0, 0.0)                 # out of range: nothing arrives
            a.sock.sendall(protocol.tx(2, B, b"far"))
            assert a.expect(protocol.TXDONE) == (2, False)
    finally:
        a.sock.close()
        b.sock.close()
