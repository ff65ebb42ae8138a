# Issue 11 on the ESP32 port (micropython, board fakes): commands that change
# a node run remotely only with the operator's token, bound to the target's
# boot and a fresh sequence number; a recorded reboot request never works
# again, not after the target rebooted, not replayed in the same boot; and
# hostile requests and replies from the mesh never end the main loop.
import json
import os

import portfakes
from mesh import admin
from meshport.app import App
from meshport import console as console_mod
from test_port import BASE, KEY, _make_app, _messages, _run

MASTER = bytes(range(100, 132))


def _admin_config(label):
    return {"admin_key": admin.node_admin_key(MASTER, label).hex(), "admin_id": label}


def _pair(a_index, b_index, b_config=None):
    if b_config is None:
        b_config = _admin_config("b%d" % b_index)
    a, b = _make_app(a_index), _make_app(b_index, b_config)
    for _ in range(3):
        a.next_publish = b.next_publish = 0
        _run([a, b], 8)
    return a, b


def _recording(app):
    """Keep every frame app's radio hears (what an attacker's receiver would record)."""
    heard = []
    recv = app.radio.recv

    def recording(timeout_ms):
        got = recv(timeout_ms)
        if got:
            heard.append((got[0], got[1]))
        return got
    app.radio.recv = recording
    return heard


def _power_cycle(app):
    """The same board, booting again: same flash folder and MAC, boot counter + 1."""
    portfakes.ETHER.stations.remove(app.radio.esp)
    os.chdir(app.dir)
    portfakes.ETHER.next_mac = app.node.id
    inp, out = portfakes.ScriptedInput(), portfakes.Output()
    again = App(console_mod.Console(inp, out, portfakes.Poller(inp)))
    again.dir, again.inp, again.out = app.dir, inp, out
    os.chdir(BASE)
    return again


def _evict_senders(app, count, now_ms):
    """count other senders (holders of the network key) each send app one frame."""
    from mesh import crypto, wire
    from mesh.frames import encode_readings_items
    keys = crypto.Keys(bytes.fromhex(KEY))
    for i in range(count):
        sender = bytes((2, 0, 0, 1, 0, i))
        raw = wire.encode_reading(wire.Reading(sender, 1, 1, 0, [("temp", 1.0, "C")]))
        frame = crypto.seal(keys, wire.T_READINGS, sender, 1, 1, encode_readings_items([raw], [0], [8]))
        app.node.receive(frame, sender, -50, now_ms)
    app.node.pop_events()


def _token(target, cmd, seq=None, label=None, key=None):
    key = key or admin.node_admin_key(MASTER, label or target.port["admin_id"])
    seq = target.admin_seq + 1 if seq is None else seq
    return admin.sign(key, target.node.id, target.node.boot, seq, json.dumps(cmd).encode()).hex()


def _ask(app, cmd_id, cmd, node, auth=None):
    line = {"id": cmd_id, "cmd": cmd, "node": node}
    if auth is not None:
        line["args"] = {"auth": auth}
    app.inp.type("@nm1 %s\n" % json.dumps(line))


def _reply(app, cmd_id):
    for m in _messages(app):
        if m.get("re") == cmd_id:
            return m
    return None


def _refusals(app):
    return [m for m in _messages(app) if m.get("ev") == "admin_rejected"]


def _steps_until_reset(apps, target, steps):
    for _ in range(steps):
        for app in apps:
            try:
                app.step()
            except portfakes.Reset:
                if app is target:
                    return True
                raise
    return False


def test_unsigned_remote_reboot_is_refused_with_a_reason():
    a, b = _pair(81, 82)
    _ask(a, 1, "reboot", "02:00:00:00:00:52")
    _run([a, b], 10)
    reply = _reply(a, 1)
    assert reply["ok"] is False and reply["reason"] == "unsigned", reply
    assert "operator key" in reply["error"]
    assert [r["reason"] for r in _refusals(b)] == ["unsigned"]
    assert not b.reboot_requested


def test_a_network_key_holder_cannot_sign_a_reboot():
    a, b = _pair(83, 84)
    # a holds the network key only: its best guess at a signing key
    forged = _token(b, {"cmd": "reboot", "args": {}}, key=b"\x00" * 32)
    _ask(a, 2, "reboot", "02:00:00:00:00:54", forged)
    other = _token(b, {"cmd": "reboot", "args": {}}, label="someone-else")
    _ask(a, 3, "reboot", "02:00:00:00:00:54", other)
    _run([a, b], 12)
    assert _reply(a, 2)["reason"] == "tag" and _reply(a, 3)["reason"] == "tag"
    assert not b.reboot_requested


def test_no_operator_key_installed_refuses_every_admin_command():
    a, b = _pair(85, 86, b_config={})
    _ask(a, 4, "config_set", "02:00:00:00:00:56",
         _token(b, {"cmd": "config_set", "args": {"field": "name", "value": "x"}}, label="b86"))
    _run([a, b], 10)
    assert _reply(a, 4)["reason"] == "no_key"


def test_signed_reboot_runs_once_and_its_recording_never_again():
    a, b = _pair(87, 88)
    heard = _recording(b)
    status_boot = b.node.boot
    _ask(a, 5, "reboot", "02:00:00:00:00:58", _token(b, {"cmd": "reboot", "args": {}}))
    _run([a, b], 10)
    assert _reply(a, 5)["ok"] is True and b.reboot_requested and b.admin_seq == 1
    assert heard                           # the attacker has every frame b heard

    # replayed in the same boot, once 65 other senders have pushed a out of
    # b's replay windows and the duplicate cache has forgotten the request:
    # the hop-by-hop check lets it through, the token's used sequence number not
    b.reboot_requested, b.reboot_at = False, None
    later = b.clock.now() + b.node.config.dup_ttl_ms + 1000
    _evict_senders(b, 65, later)
    assert not [w for w in b.node.replay.snapshot() if w[0][:6] == a.node.id]
    for mac, frame in heard:
        b.node.receive(frame, mac, -50, later)
    b._events()
    assert not b.reboot_requested
    assert "seq" in [r["reason"] for r in _refusals(b)]

    # the target boots again; the whole recording is played to it
    b2 = _power_cycle(b)
    assert b2.node.boot == status_boot + 1
    for mac, frame in heard:
        b2.radio.esp.queue.append((mac, frame))
    assert not _steps_until_reset([b2], b2, len(heard) + 20)
    assert not b2.reboot_requested
    assert [r["reason"] for r in _refusals(b2)] == ["boot"]


def test_signed_config_set_runs_and_status_shows_the_binding():
    a, b = _pair(89, 90)
    a.inp.type('@nm1 {"id": 6, "cmd": "status", "node": "02:00:00:00:00:5a"}\n')
    _run([a, b], 10)
    status = _reply(a, 6)["data"]
    assert status["boot"] == b.node.boot and status["admin_seq"] == 0 and status["admin_id"] == "b90"
    cmd = {"cmd": "config_set", "args": {"field": "stats_s", "value": 7}}
    _ask(a, 7, "config_set", "02:00:00:00:00:5a", _token(b, cmd))
    _run([a, b], 10)
    assert _reply(a, 7)["ok"] is True and b.raw_settings["stats_s"] == 7
    a.inp.type('@nm1 {"id": 8, "cmd": "config_get", "node": "02:00:00:00:00:5a"}\n')
    _run([a, b], 10)
    shown = _reply(a, 8)["data"]
    assert shown["admin_key"] == "(set, 32 bytes)" and shown["key"].startswith("(set")


def test_hostile_requests_and_replies_never_end_the_loop():
    a, b = _pair(91, 92)
    node = b.node
    node.emit(("request", a.node.id, 9, b"D\xff\xfe not utf-8"))
    node.emit(("request", b"\xff" * 6, 10, b"Dhi"))          # an origin nobody can answer
    node.emit(("request", a.node.id, 11, b"C[1, 2]"))
    node.emit(("request", a.node.id, 12, b'C{"cmd": [1]}'))
    node.emit(("request", a.node.id, 13, b"C" + b"[" * 5000))
    node.emit(("request", a.node.id, 14, b"A\x00"))
    b.pending[15] = [77, b.clock.now()]
    node.emit(("reply", 15, a.node.id, b"R[1, 2, 3]", 1))
    b.pending[16] = [78, b.clock.now()]
    node.emit(("reply", 16, a.node.id, b'R{"ok": true, "data": {"name": [1]}}', 1))
    b._events()
    out = _messages(b)
    msg = [m for m in out if m.get("ev") == "message"]
    assert msg[0]["data"] is None and msg[0]["data_hex"].startswith("fffe")
    assert _reply(b, 77)["error"] == "garbled reply"
    assert _reply(b, 78)["ok"] is True and a.node.id not in b.names
    assert [r["reason"] for r in _refusals(b)] == ["malformed"]
    _run([a, b], 5)
