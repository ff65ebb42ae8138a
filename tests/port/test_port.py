# The ESP32 port (firmware/meshport) under the micropython interpreter, with
# in-process fakes for the radio and board (portfakes). Run by `make test-upy`.
import json
import os

import portfakes

portfakes.install()

from meshport import console as console_mod  # noqa: E402
from meshport import store  # noqa: E402
from meshport.app import App  # noqa: E402
# The app imports its console command handlers on the first command (as a
# board does, from its flash root). These tests chdir into fake flash dirs
# and MICROPYPATH is relative: import them here, from the repository root.
from meshport import commands  # noqa: E402,F401

KEY = "000102030405060708090a0b0c0d0e0f"
BASE = os.getcwd()
_counter = [0]


def _fresh_dir(name):
    _counter[0] += 1
    path = "%s/.porttest-%s-%d" % ("/tmp", name, _counter[0])
    try:
        os.mkdir(path)
    except OSError:
        for f in os.listdir(path):
            os.remove(path + "/" + f)
    return path


def _make_app(index, config=None, raw_config=None):
    d = _fresh_dir("n%d" % index)
    os.chdir(d)
    if raw_config is not None:
        with open("nowmesh.json", "w") as f:
            f.write(raw_config)
    elif config is not False:
        cfg = {"name": "node%d" % index, "key": KEY, "channel": 1}
        cfg.update(config or {})
        store.write_json("nowmesh.json", cfg)
    portfakes.ETHER.next_mac = bytes((2, 0, 0, 0, 0, index))
    inp, out = portfakes.ScriptedInput(), portfakes.Output()
    app = App(console_mod.Console(inp, out, portfakes.Poller(inp)))
    app.dir, app.inp, app.out = d, inp, out
    os.chdir(BASE)
    return app


def _messages(app):
    out = []
    for line in app.out.lines:
        if line.startswith("@nm1 "):
            out.append(json.loads(line[5:]))
    return out


def _run(apps, steps=60):
    for _ in range(steps):
        for app in apps:
            app.step()


def test_hello_first_with_protocol_version():
    app = _make_app(1)
    first = _messages(app)[0]
    assert first["ev"] == "hello" and first["proto"] == 1 and first["name"] == "node1"
    assert first["id"] == "02:00:00:00:00:01"


def test_two_nodes_share_readings():
    a, b = _make_app(11), _make_app(12)
    a.next_publish = b.next_publish = 0
    _run([a, b], 5)
    got = [m for m in _messages(b) if m.get("ev") == "reading" and not m.get("local")]
    assert got and got[0]["id"] == "02:00:00:00:00:0b"
    own = [m for m in _messages(b) if m.get("ev") == "reading" and m.get("local")]
    assert own and own[0]["id"] == "02:00:00:00:00:0c" and own[0]["name"] == "node12"
    names = [v[0] for v in got[0]["values"]]
    assert "temp_mcu" in names and "uptime" in names


def test_status_command_reply():
    app = _make_app(21)
    app.inp.type('@nm1 {"id": 7, "cmd": "status"}\n')
    _run([app], 2)
    replies = [m for m in _messages(app) if m.get("re") == 7]
    assert replies and replies[0]["ok"] and replies[0]["data"]["name"] == "node21"
    assert replies[0]["data"]["readings"] == 0        # other nodes' readings: none (was -1 before a publish)


def test_garbage_on_console_is_reported_and_ignored():
    app = _make_app(31)
    app.inp.type("\x00\xffgarbage\nx = 1\n@nm1 {not json}\n@nm1 {\"id\": 2, \"cmd\": \"hello\"}\n")
    _run([app], 2)
    msgs = _messages(app)
    assert len([m for m in msgs if m.get("ev") == "console_error"]) == 3
    assert [m for m in msgs if m.get("re") == 2 and m["ok"]]


def test_a_memory_error_in_a_step_is_ridden_out_until_it_repeats():
    app = _make_app(33)
    real_step = app.step
    failures = [2]

    def short_of_memory():
        if failures[0]:
            failures[0] -= 1
            raise MemoryError("memory allocation failed")
        real_step()
    app.step = short_of_memory
    for _ in range(4):
        app.guarded_step()
    lows = [m for m in _messages(app) if m.get("ev") == "low_memory"]
    assert [m["in_a_row"] for m in lows] == [1, 2]
    assert app.node.stats["out_of_memory"] == 2 and app.oom_in_a_row == 0

    def always_short():
        raise MemoryError("memory allocation failed")
    app.step = always_short
    raised = False
    try:
        for _ in range(5):
            app.guarded_step()
    except MemoryError:
        raised = True
    assert raised and app.oom_in_a_row == 4


def test_unknown_command_is_an_error_reply():
    app = _make_app(32)
    app.inp.type('@nm1 {"id": 3, "cmd": "selfdestruct"}\n')
    _run([app], 1)
    reply = [m for m in _messages(app) if m.get("re") == 3][0]
    assert reply["ok"] is False and "unknown command" in reply["error"]


def test_corrupt_config_falls_back_to_safe_defaults():
    app = _make_app(41, raw_config="{this is not json")
    msgs = _messages(app)
    assert msgs[0]["name"] == "n-000029"
    problems = [m for m in msgs if m.get("ev") == "config_error"]
    assert problems and "nowmesh.json" in problems[0]["error"]


def test_invalid_field_falls_back_and_names_it():
    app = _make_app(42, config={"channel": 99})
    problems = [m for m in _messages(app) if m.get("ev") == "config_error"]
    assert problems and "channel" in problems[0]["error"]


def test_config_set_persists_and_get_hides_the_key():
    app = _make_app(51)
    os.chdir(app.dir)
    app.inp.type('@nm1 {"id": 1, "cmd": "config_set", "args": {"field": "name", "value": "kitchen"}}\n')
    app.inp.type('@nm1 {"id": 2, "cmd": "config_get"}\n')
    app.inp.type('@nm1 {"id": 3, "cmd": "config_set", "args": {"field": "channel", "value": 40}}\n')
    _run([app], 2)
    with open("nowmesh.json") as f:
        saved = json.loads(f.read())
    os.chdir(BASE)
    msgs = {m.get("re"): m for m in _messages(app)}
    assert msgs[1]["ok"] and saved["name"] == "kitchen"
    assert KEY not in json.dumps(msgs[2]) and msgs[2]["data"]["name"] == "kitchen"
    assert msgs[3]["ok"] is False and saved["channel"] == 1


def test_ping_and_remote_status_through_the_mesh():
    a, b = _make_app(61), _make_app(62)
    _run([a, b], 3)
    a.inp.type('@nm1 {"id": 5, "cmd": "ping", "args": {"node": "02:00:00:00:00:3e"}}\n')
    a.inp.type('@nm1 {"id": 6, "cmd": "status", "node": "02:00:00:00:00:3e"}\n')
    _run([a, b], 10)
    msgs = {m.get("re"): m for m in _messages(a)}
    assert msgs[5]["ok"] and msgs[5]["data"]["hops"] >= 1
    assert msgs[6]["ok"] and msgs[6]["data"]["name"] == "node62"


def test_boot_counter_increments_and_survives_a_corrupt_copy():
    os.chdir(_fresh_dir("boot"))
    first = store.next_boot_counter()
    second = store.next_boot_counter()
    with open("boot.cnt", "w") as f:
        f.write("garbage")
    third = store.next_boot_counter()
    os.chdir(BASE)
    assert (first, second, third) == (1, 2, 3)


def test_a_sensor_that_cannot_start_is_reported_and_the_node_runs_on():
    # Console.event's own parameter once was `kind`, the sensor event's field:
    # reporting any sensor problem raised TypeError and ended main.py.
    app = _make_app(32, {"sensors": [{"kind": "no-such-sensor"}]})
    _run([app], 2)
    msgs = _messages(app)
    sensor = [m for m in msgs if m.get("ev") == "sensor"]
    assert len(sensor) == 1 and sensor[0]["kind"] == "no-such-sensor" and sensor[0]["ok"] is False
    assert "unknown sensor kind" in sensor[0]["error"]
    assert [m for m in msgs if m.get("ev") == "hello"]
