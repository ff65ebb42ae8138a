"""Two emulated boards: ESP-NOW LMK encryption and the PHY rate, modelled as on
the chip (docs/emulation.md, "Faithful, and not"). The rate's airtime and
sensitivity come from the one radio model the simulator uses (radio/model.py)."""
from nowmesh.emulation.control import MediumControl
from nowmesh.radio import model as radio

from conftest import links_topology

NEAR = links_topology(["a", "b"], [("a", "b", -60, -60)])
LMK = b"0123456789abcdef"
OTHER = b"fedcba9876543210"

RECEIVER = """
    import select
    w, e = up()
    e.active(False)
    e.config(rxbuf=4096)      # room for a burst of 54 Mbps frames (the default holds two)
    e.active(True)
    {setup}
    ready()
    got = []
    stop = select.poll()
    stop.register(sys.stdin, select.POLLIN)
    while not stop.poll(0):           # until the test says the sender is done
        mac_, msg = e.recv(100)
        if msg is not None:
            got.append({keep})
    while True:                       # and what was already on its way
        mac_, msg = e.recv(300)
        if msg is None:
            break
        got.append({keep})
    result(got, e.stats()[3])
"""


def receiver(setup="pass", keep="bytes(msg)"):
    """The receiving script: `setup` runs first; `keep` is what it keeps of each
    message (the lengths of the 200-byte bursts: their repr would need a 9 KB
    string in one piece, which a fragmented 110K heap may not have)."""
    return RECEIVER.format(setup=setup, keep=keep)


def stop(*receivers):
    for node in receivers:
        node.send_line("stop")


def test_a_frame_sealed_with_the_wrong_lmk_never_reaches_the_application(emulation):
    emu = emulation(NEAR)
    a_mac = emu.mac("a")
    b = emu.start("b", receiver("e.add_peer(%r, %r)" % (a_mac, LMK)))
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(mac(1), %r)
        r1 = e.send(mac(1), b'right key')
        e.mod_peer(mac(1), lmk=%r)
        r2 = e.send(mac(1), b'wrong key')      # the MAC still acknowledges it
        e.mod_peer(mac(1), encrypt=False)
        r3 = e.send(mac(1), b'in the clear')
        e.mod_peer(mac(1), lmk=%r)
        e.set_pmk(b'another pmk 1234')
        r4 = e.send(mac(1), b'wrong pmk')
        result(r1, r2, r3, r4)
    """ % (LMK, OTHER, LMK))
    assert a.result() == (True, True, True, True)
    stop(b)
    got, rx_packets = b.result()
    assert got == [b"right key", b"in the clear"]
    assert rx_packets == 2
    a.finish()
    b.finish()


def test_an_encrypted_frame_needs_the_sender_registered_as_an_encrypted_peer(emulation):
    emu = emulation(NEAR)
    b = emu.start("b", receiver())          # b knows no peers at all
    b.wait_for("READY")
    a = emu.start("a", """
        w, e = up()
        e.add_peer(mac(1), %r)
        result(e.send(mac(1), b'sealed'), e.get_peer(mac(1))[4])
    """ % LMK)
    assert a.result() == (True, True)
    stop(b)
    assert b.result() == ([], 0)
    a.finish()
    b.finish()


LR = "w.config(protocol=w.PROTOCOL_DEFAULT | w.PROTOCOL_LR)"
BROADCASTER = """
    w, e = up()
    e.add_peer(BCAST)
    sys.stdin.readline()
    for rate in (espnow.RATE_1M, espnow.RATE_54M, espnow.RATE_LORA_250K):
        e.config(rate=rate)
        for i in range(5):
            e.send(BCAST, bytes(200))
        time.sleep_ms(300)        # all of them on air before the next rate
        print('SENT', rate)
        sys.stdin.readline()
"""


def test_the_rate_sets_the_airtime_of_every_frame(emulation):
    emu = emulation(NEAR)
    control = MediumControl(emu.server.address)
    b = emu.start("b", receiver(LR, keep="len(msg)"))
    b.wait_for("READY")
    a = emu.start("a", BROADCASTER)
    airtime = []
    for rate in (0x00, 0x0C, 0x29):
        before = control.status()["counters"]["airtime_us"]
        a.send_line("go")
        assert int(a.wait_for("SENT")) == rate
        airtime.append(control.status()["counters"]["airtime_us"] - before)
    a.send_line("done")
    per_frame = [radio.airtime_us(200, radio.RATES[code]) for code in (0x00, 0x0C, 0x29)]
    assert per_frame == [2136, 66, 7968]      # 192+8*243; 20+4*10+6; 192+8*243*4
    assert airtime == [5 * t for t in per_frame]
    stop(b)
    got, _ = b.result()
    assert got == [200] * 15           # a strong link: every rate gets through
    a.finish()
    b.finish()


def test_the_rate_sets_the_range_and_lr_needs_both_ends(emulation):
    # -90 dBm: below 54 Mbps' sensitivity (-75), above 1 Mbps' (-97);
    # c hears a at -104 dBm: only LR (-105) gets there, and only to an LR receiver
    topology = links_topology(["a", "b", "c", "d"],
                              [("a", "b", -90, -90), ("a", "c", -104, -104), ("a", "d", -104, -104)])
    emu = emulation(topology)
    receivers = {name: emu.start(name, receiver(setup, keep="len(msg)"))
                 for name, setup in (("b", LR), ("c", LR), ("d", "pass"))}
    for node in receivers.values():
        node.wait_for("READY")
    a = emu.start("a", BROADCASTER)
    for _ in range(3):
        a.send_line("go")
        a.wait_for("SENT")
    a.send_line("done")
    stop(*receivers.values())
    heard = {name: node.result()[0] for name, node in receivers.items()}
    # b: all five at 1 Mbps and at LR, none of the 54 Mbps ones (15 dB below sensitivity)
    assert heard["b"] == [200] * 10
    # c: only the LR frames; d, without PROTOCOL_LR, decodes none of them
    assert heard["c"] == [200] * 5
    assert heard["d"] == []
    a.finish()
    for node in receivers.values():
        node.finish()


def test_the_simulator_uses_the_same_rate_table():
    from nowmesh.sim.engine import SimParams, Simulation
    from nowmesh.radio.topology import build
    topo = build("line", 4, 1, 30.0)
    runs = {}
    for name in ("1M", "54M"):
        sim = Simulation(topo, SimParams(seed=1, duration_s=40.0, phy_rate=name))
        assert all(st.phy is radio.rate_by_name(name) for st in sim.medium.stations)
        runs[name] = sim.run()
    assert runs["54M"]["airtime_ms"] < runs["1M"]["airtime_ms"] / 5
