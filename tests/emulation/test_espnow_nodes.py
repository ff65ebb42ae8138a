"""Real `micropython` processes with the emulated espnow/network talking through the medium."""
from nowmesh.emulation.control import MediumControl

from conftest import REPO, links_topology

PAIR = links_topology(["a", "b", "c"], [("a", "b", -60, -65)])


def test_broadcast_between_two_nodes(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        w, e = up()
        ready()
        first = e.recv(5000)
        while True:                  # recv(0) polls: it takes what has arrived
            second = e.recv(0)
            if second[0] is not None:
                break
            time.sleep_ms(5)
        result(first, second, e.stats())
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(BCAST)
        result(e.send(BCAST, b'hello all'), e.send(BCAST, 'text', False))
        time.sleep_ms(100)      # let the MAC put the frames on air before power goes
    """)
    assert a.result() == (True, True)
    first, second, stats = b.result()
    assert first == [emu.mac("a"), b"hello all"]
    assert second == [emu.mac("a"), b"text"]
    assert stats == (0, 0, 0, 2, 0)
    a.finish()
    b.finish()


def test_unicast_reports_the_mac_ack(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        w, e = up()
        ready()
        result(e.recv(5000)[1])
        sys.stdin.readline()
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        for i in (1, 2, 98):
            e.add_peer(mac(i))
        result(e.send(mac(1), b'to b'))       # b listens
        result(e.send(mac(98), b'nobody'))    # no node has this MAC
        result(e.send(mac(2), b'to c'))       # c is in the topology, not running
        sys.stdin.readline()
        result(e.send(mac(1), b'cut'))        # b is cut off by the test
        result(e.send(mac(1), b'async', False), e.stats())
    """)
    assert a.result() is True
    assert b.result() == b"to b"
    assert a.result() is False
    assert a.result() is False
    with MediumControl(emu.server.address) as control:
        control.cut(emu.mac("b"))
        a.send_line("go")
        assert a.result() is False
        sent, stats = a.result()
        assert sent is True                   # sync=False never waits for the ACK
        assert stats[:3][0] == 5 and stats[2] >= 3
        status = control.status()
    assert [n["cut"] for n in status["nodes"]] == [False, True, False]
    assert status["radio"]["mac_failures"] >= 3
    b.send_line("done")
    a.finish()
    b.finish()


def test_channels_isolate_nodes(emulation):
    topology = links_topology(["a", {"name": "d", "channel": 6}], [("a", "d", -50)])
    emu = emulation(topology)
    d = emu.start("d", """
        w, e = up()
        print('CHANNEL', w.config('channel'))
        ready()
        got = []
        while True:
            mac_, msg = e.recv(1500)
            if msg is None:
                break
            got.append(bytes(msg))
        result(got)
    """)
    assert d.wait_for("CHANNEL") == "6"      # the topology's channel, until the program sets one
    d.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(BCAST)
        print('CHANNEL', w.config('channel'))
        e.send(BCAST, b'on 1')
        time.sleep_ms(50)
        w.config(channel=6)
        e.send(BCAST, b'on 6')
        time.sleep_ms(100)
    """)
    assert a.wait_for("CHANNEL") == "1"
    assert d.result() == [b"on 6"]
    a.finish()
    d.finish()


def test_peers_table_rssi_comes_from_the_link_table(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        w, e = up()
        e.add_peer(mac(0))
        seen = []
        e.irq(lambda esp: seen.append(esp.irecv(0)[1][:]))
        ready()
        while not seen:
            e.any()
            time.sleep_ms(5)
        e.send(mac(0), b'reply')
        result(seen, e.peers_table[mac(0)][0])
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(mac(1))
        e.send(mac(1), b'ping')
        data = [None, bytearray(250), 0, 0]
        n = e.recvinto(data, 5000)
        table = e.peers_table
        result(n, bytes(data[1]), data[2], table[mac(1)][0], data[0] is list(table)[0])
    """)
    assert b.result() == ([bytearray(b"ping")], -60)          # a -> b: rssi
    assert a.result() == (5, b"reply", -65, -65, True)       # b -> a: rssi_ba
    a.finish()
    b.finish()


def test_rx_buffer_overflow_drops_and_counts(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        w, e = up()
        ready()
        sys.stdin.readline()         # not reading while a sends
        got = []
        while True:
            mac_, msg = e.irecv(200)
            if msg is None:
                break
            got.append(len(msg))
        result(got, e.stats())
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(BCAST)
        for i in range(5):
            e.send(BCAST, bytes(250))
        for i in range(3):
            e.send(BCAST, bytes(20))
        time.sleep_ms(300)
        result(e.stats())
    """)
    assert a.result() == (8, 8, 0, 0, 0)
    b.send_line("read now")
    got, stats = b.result()
    # The default 526-byte ring takes a packet only while 13 + len < free bytes
    # (modespnow.c): one 250-byte frame (free 525 -> 262), then the small ones.
    assert got == [250, 20, 20, 20]
    assert stats[3:] == (4, 4)
    a.finish()
    b.finish()


def test_aioespnow_round_trip(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        import asyncio, aioespnow
        network.WLAN(network.STA_IF).active(True)
        e = aioespnow.AIOESPNow()
        e.active(True)
        async def echo():
            print('READY')
            async for mac_, msg in e:
                e.add_peer(mac_)
                await e.asend(mac_, b'echo:' + msg)
                break
        asyncio.run(echo())
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        import asyncio, aioespnow
        network.WLAN(network.STA_IF).active(True)
        e = aioespnow.AIOESPNow()
        e.active(True)
        e.add_peer(mac(1))
        async def main():
            ok = await e.asend(mac(1), b'hi')
            reply = await asyncio.wait_for_ms(e.arecv(), 5000)
            return ok, reply
        result(asyncio.run(main()))
    """)
    ok, (src, msg) = a.result()
    assert ok is True and src == emu.mac("b") and msg == b"echo:hi"
    a.finish()
    b.finish()


def test_the_firmware_ports_radio_runs_unchanged(emulation):
    """firmware/meshport/radio.py, written for boards, on the emulated modules."""
    firmware = REPO / "firmware"
    emu = emulation(PAIR)
    b = emu.start("b", """
        from meshport.radio import Radio
        radio = Radio()
        radio.set_channel(1)
        ready()
        first = radio.recv(5000)
        second = radio.recv(5000)
        result(first, second)
    """, path=[firmware])
    b.wait_for("READY")
    a = emu.start("a", """
        from meshport.radio import Radio, BROADCAST
        radio = Radio()
        radio.set_channel(1)
        result(radio.send(BROADCAST, b'beacon'), radio.send(mac(1), b'unicast'),
               radio.send(mac(2), b'nobody home'))
    """, path=[firmware])
    assert a.result() == (True, True, False)
    assert b.result() == ((emu.mac("a"), b"beacon", -60), (emu.mac("a"), b"unicast", -60))
    a.finish()
    b.finish()


def test_irq_callbacks_run_while_the_program_sleeps(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        seen = []
        def on_message(esp):
            while True:
                mac_, msg = esp.irecv(0)
                if msg is None:
                    break
                seen.append((bytes(msg), time.ticks_ms()))
        e = espnow.ESPNow()
        e.irq(on_message)            # before active(True), as programs often do
        w, e = up()
        ready()
        start = time.ticks_ms()
        time.sleep_ms(1500)          # no espnow call while a sends
        result([msg for msg, _ in seen], all(t - start < 1400 for _, t in seen))
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(mac(1))
        result([e.send(mac(1), b'm%d' % i) for i in range(3)])
    """)
    assert a.result() == [True, True, True]
    assert b.result() == ([b"m0", b"m1", b"m2"], True)
    a.finish()
    b.finish()
