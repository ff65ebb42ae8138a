"""The pure parts of the query tools, without a mesh: merging a node's views
into the node list, merging neighbour tables into links, the renderers, the
text tables, and the hello check against scripted consoles at the serial seam."""
import json
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from nowmesh.console import ConsoleClient
from nowmesh.errors import InputError
from nowmesh.query import FirmwareError, MeshSession, entries_from_rows, known_nodes, text
from nowmesh.query import drawing, render
from nowmesh.query import session as session_module
from nowmesh.query.session import LOCAL_TIMEOUT_S
from nowmesh.query.topology import merge_links
from scripted_port import ScriptedPort, reply

A, B, C, D = ("02:00:00:00:00:0%d" % i for i in range(1, 5))
NAMES = {A: "a", B: "b", C: "c", D: "d"}


def _nb(node_id, rssi, cost):
    return {"id": node_id, "name": NAMES.get(node_id), "rssi": rssi, "cost": cost, "age_s": 1}


# -- node list ----------------------------------------------------------------------

FIELDS = ["id", "name", "age_s", "seq", "hops", "next_hop", "metric", "rssi", "cost", "uptime_s", "heap_free"]


def test_entries_from_rows():
    rows = [[A, "a", 0, 4, 0, None, None, None, None, 70, 9000],
            [C, None, 5, 9, 2, B, 17, None, None, None, None]]
    a, c = entries_from_rows(FIELDS, rows, A)
    assert a["local"] and a["hops"] == 0 and a["uptime_s"] == 70 and a["last_heard_s"] == 0
    assert not c["local"] and c["next_hop"] == B and c["last_heard_s"] == 5 and "age_s" not in c


# -- links --------------------------------------------------------------------------

def test_each_link_once_with_the_weaker_rssi_and_the_worse_cost():
    tables = {A: [_nb(B, -80, 10)], B: [_nb(A, -84, 12), _nb(C, -90, 9)], C: [_nb(B, -88, 9)]}
    links, weak = merge_links(tables, NAMES)
    assert [(l["a"], l["b"]) for l in links] == [("a", "b"), ("b", "c")]
    ab = links[0]
    assert ab["rssi"] == -84 and ab["cost"] == 12 and ab["etx"] == 1.5
    assert (ab["rssi_at_a"], ab["rssi_at_b"], ab["cost_at_a"], ab["cost_at_b"]) == (-80, -84, 10, 12)
    assert weak == []


def test_a_fringe_pair_good_from_one_end_only_is_weak():
    # seen live: n5 hears n3 well and read n3's hello from a lucky moment (22),
    # while n3, hearing n5 one frame in seven, measures 77
    tables = {A: [_nb(B, -96, 22)], B: [_nb(A, -100, 77)]}
    links, weak = merge_links(tables, NAMES, max_cost=24)
    assert links == [] and [(l["a"], l["b"], l["cost"]) for l in weak] == [("a", "b", 77)]


def test_weak_one_way_one_sided_and_unusable_links():
    tables = {A: [_nb(B, -80, 8), _nb(C, -99, 40), _nb(D, -97, 9)],
              B: [_nb(A, -80, 8)],
              C: [_nb(A, -100, 48)],
              D: None}                          # D did not answer
    tables[B].append(_nb(C, -101, 255))         # B hears C, but C does not hear B: dropped
    links, weak = merge_links(tables, NAMES, max_cost=24)
    assert [(l["a"], l["b"]) for l in links] == [("a", "b"), ("a", "d")]
    assert links[1].get("one_sided") is True and links[1]["rssi_at_b"] is None
    assert [(l["a"], l["b"], l["cost"]) for l in weak] == [("a", "c", 48)]
    one_way = {A: [_nb(B, -90, 20)], B: []}
    links, weak = merge_links(one_way, NAMES)
    assert links == [] and weak[0].get("one_way") is True


# -- renderers ----------------------------------------------------------------------

TOPOLOGY = {
    "node": "a", "max_cost": 24,
    "nodes": [{"name": n, "id": i, "hops": k, "local": k == 0, "answered": True}
              for k, (i, n) in enumerate(sorted(NAMES.items()))],
    "links": [{"a": "a", "b": "b", "rssi": -80, "cost": 8, "etx": 1.0},
              {"a": "b", "b": "c", "rssi": -91, "cost": 10, "etx": 1.25},
              {"a": "c", "b": "d", "rssi": -93, "cost": 12, "etx": 1.5}],
    "weak_links": [{"a": "a", "b": "c", "rssi": -100, "cost": 44, "etx": 5.5}],
}


def test_layout_puts_a_line_in_a_row_and_is_deterministic():
    positions, width, height = drawing.layout(TOPOLOGY)
    assert positions == drawing.layout(TOPOLOGY)[0]
    xs = [positions[n][0] for n in "abcd"]
    assert xs == sorted(xs) and len({positions[n][1] for n in "abcd"}) == 1
    assert all(0 < x < width for x in xs)
    assert len(drawing.link_path(positions["a"], positions["c"])) > 2    # a skip bows around b


def test_svg_is_xml_with_every_node_and_link_label(tmp_path):
    path = tmp_path / "mesh.svg"
    render.write(TOPOLOGY, str(path))
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(ns + "text")]
    assert {"a", "b", "c", "d"} <= set(texts)
    assert "-91 dBm, ETX 1.2" in texts and "-100 dBm, ETX 5.5" in texts
    lines = [p for p in root.iter(ns + "polyline")]
    assert len(lines) == 4 and sum(1 for p in lines if p.get("stroke-dasharray")) == 1


def test_png_and_dot_and_json(tmp_path):
    render.write(TOPOLOGY, str(tmp_path / "mesh.png"))
    with Image.open(tmp_path / "mesh.png") as image:
        assert image.format == "PNG" and image.size[0] > 400
        assert len(image.getcolors(1 << 16)) > 2          # something was drawn
    render.write(TOPOLOGY, str(tmp_path / "mesh.dot"))
    dot = (tmp_path / "mesh.dot").read_text()
    assert dot.startswith("graph nowmesh {") and dot.count(" -- ") == 4 and "style=dashed" in dot
    render.write(TOPOLOGY, str(tmp_path / "mesh.json"))
    assert json.loads((tmp_path / "mesh.json").read_text())["links"] == TOPOLOGY["links"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mesh.dot", "mesh.json", "mesh.png"]


def test_bad_output_names_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match="must end in"):
        render.write(TOPOLOGY, str(tmp_path / "mesh.txt"))
    with pytest.raises(InputError, match="cannot write"):
        render.write(TOPOLOGY, str(tmp_path / "missing-dir" / "mesh.json"))
    assert list(tmp_path.iterdir()) == []


def test_text_tables_align_and_mark_the_local_node():
    doc = {"node": "a", "nodes": [
        {"name": "a", "id": A, "hops": 0, "last_heard_s": 0, "next_hop": None, "rssi": None, "cost": None,
         "uptime_s": 5, "heap_free": 100, "local": True},
        {"name": "b", "id": B, "hops": 1, "last_heard_s": 3, "next_hop": B, "rssi": -80, "cost": 12,
         "uptime_s": None, "heap_free": None, "local": False}]}
    lines = text.nodes_text(doc).splitlines()
    assert lines[0].split()[:3] == ["name", "id", "hops"]
    assert lines[1].startswith("a *") and "-80 dBm" in lines[2] and "1.50" in lines[2]
    assert len({line.index("02:") for line in lines[1:3]}) == 1         # columns line up
    trace = {"node": "c", "id": C, "ok": False, "hops": 1, "error": "b has no route to c",
             "path": [{"from": "a", "to": "b", "rssi": -80, "cost": 8, "ms": 40}]}
    assert text.trace_text(trace).splitlines()[-1] == "stopped: b has no route to c"


# -- the hello check, at the serial seam ----------------------------------------------

def _session(answer):
    port = ScriptedPort(answer)
    return MeshSession("scripted", client=ConsoleClient("scripted", port=port), hello_timeout_s=0.4), port


@pytest.mark.parametrize("answer, message", [
    (lambda cmd: [">>> "], "runs MicroPython but not nowmesh"),
    (lambda cmd: ["Guru Meditation Error"], "does not answer as a nowmesh node"),
    (lambda cmd: ['@nm2 {"ev": "hello", "proto": 2}'], "speaks console protocol 2"),
    (lambda cmd: [reply(cmd, ok=False, error="unknown command 'hello'")], "older nowmesh firmware"),
    (lambda cmd: [reply(cmd, ok=True, data={"proto": 0, "id": A})], "update the node's firmware"),
])
def test_a_port_without_this_nowmesh_is_refused_with_one_clear_message(answer, message):
    session, port = _session(answer)
    with pytest.raises(FirmwareError, match=message):
        with session:
            pass
    assert port.closed


def test_a_nowmesh_node_passes_and_commands_run_several_at_once():
    def answer(cmd):
        if cmd["cmd"] == "hello":
            return [reply(cmd, ok=True, data={"proto": 1, "id": A, "name": "a", "fw": "0.1.0"})]
        return ['@nm1 {"ev": "stats"}', reply(cmd, ok=True, data={"echo": cmd.get("node")})]
    session, _port = _session(answer)
    with session:
        assert session.local_name == "a"
        outcomes = session.run_many([("status", None, None), ("status", None, B), ("status", None, C)])
    assert [o.data["echo"] for o in outcomes] == [None, B, C]


def test_known_nodes_pages_through_the_nodes_table_and_learns_names():
    ids = ["02:00:00:00:01:%02x" % i for i in range(19)]
    asked = []

    def answer(cmd):
        asked.append((cmd["cmd"], cmd.get("args"), cmd.get("node")))
        if cmd["cmd"] == "hello":
            node = cmd.get("node") or ids[0]
            return [reply(cmd, ok=True, data={"proto": 1, "id": node, "name": "far-" + node[-2:]})]
        offset, limit = cmd["args"]["offset"], cmd["args"]["limit"]
        rows = [[i, "near" if k < 3 else None, 1, 1, min(k, 3), None, None, None, None, None, None]
                for k, i in enumerate(ids)]
        return [reply(cmd, ok=True, data={"total": len(ids), "fields": FIELDS,
                                           "rows": rows[offset:offset + limit]})]
    session, _port = _session(answer)
    with session:
        nodes = known_nodes(session)
    assert sorted(n["id"] for n in nodes) == sorted(ids)
    pages = [a for a in asked if a[0] == "nodes"]
    assert [p[1]["offset"] for p in pages] == [0, 8, 16] and all(p[1]["limit"] == 8 for p in pages)
    hellos = [a[2] for a in asked if a[0] == "hello" and a[2]]
    assert sorted(hellos) == sorted(ids[3:])                  # only the unnamed ones, through the mesh
    assert {n["name"] for n in nodes if n["id"] == ids[5]} == {"far-05"}


def test_an_older_firmware_without_a_command_is_named_as_such():
    def answer(cmd):
        if cmd["cmd"] == "hello":
            return [reply(cmd, ok=True, data={"proto": 1, "id": A, "name": "a", "fw": "0.0.9"})]
        return [reply(cmd, ok=False, error="unknown command %r" % cmd["cmd"])]
    session, _port = _session(answer)
    with session:
        with pytest.raises(FirmwareError, match=r"a runs a nowmesh firmware without the 'nodes' command "
                                                r"\(firmware 0.0.9\): update it"):
            known_nodes(session)


class _VirtualClock:
    """Stands in for the session module's `time`: each look at the clock
    advances it 1 ms, so a wait for a deadline shows as virtual time spent."""

    def __init__(self):
        self.t = 0.0

    def monotonic(self):
        self.t += 0.001
        return self.t

    def sleep(self, s):
        self.t += max(0.0, s)


def test_a_node_that_restarts_mid_query_is_asked_again_and_reported(monkeypatch):
    crashed = []

    def answer(cmd):
        if cmd["cmd"] == "hello":
            return [reply(cmd, ok=True, data={"proto": 1, "id": A, "name": "a", "fw": "0.1.0"})]
        if not crashed:            # the first status dies with the node, which boots again
            crashed.append(cmd["id"])
            return ['@nm1 {"ev": "crash", "error": "MemoryError()"}', "rst:0xc (SW_CPU_RESET)",
                    '@nm1 {"ev": "hello", "proto": 1, "id": "%s", "name": "a"}' % A]
        return [reply(cmd, ok=True, data={"uptime_s": 1})]
    session, _port = _session(answer)
    with session:
        clock = _VirtualClock()
        monkeypatch.setattr(session_module, "time", clock)
        assert session.command("status") == {"uptime_s": 1}
    assert clock.t < LOCAL_TIMEOUT_S / 10     # asked again on the node's hello, not after a timeout
    assert "restarted 1 time(s)" in session.restart_note() and "MemoryError" in session.restart_note()


def test_a_signed_command_the_mesh_lost_is_not_sent_again(monkeypatch):
    # An operator token works once: sending it again after a lost answer (the
    # command may have run) would only be refused as a replay.
    asked = []

    def answer(cmd):
        if cmd["cmd"] == "hello":
            return [reply(cmd, ok=True, data={"proto": 1, "id": A, "name": "a", "fw": "0.1.0"})]
        asked.append(cmd["args"])
        return [reply(cmd, ok=False, error="timeout", node=B)]
    session, _port = _session(answer)
    with session:
        monkeypatch.setattr(session_module, "time", _VirtualClock())
        session.run_many([("config_set", {"field": "x", "value": 1}, B),
                          ("config_set", {"field": "x", "value": 1, "auth": "00"}, B)])
    assert [a.get("auth") for a in asked].count(None) == 2 and asked.count({"field": "x", "value": 1,
                                                                             "auth": "00"}) == 1
