"""ESP-NOW v2 payloads on emulated boards running the real firmware: the board
profile's firmware gives espnow.MAX_DATA_LEN (1470 on ESP-IDF >= 5.4 builds),
250 stays selectable, and the mesh core sends frames larger than 250 bytes
only where both ends advertised that they take them (docs/protocol.md).

    n1 ---- n2 ---- n3          readings of ~190 bytes: two never fit 250

Readings are taken once a minute, so each node publishes once, at boot: a
restarted node can then learn the others' readings only by its full sync
(a pull answered unicast), never from a broadcast that happens to come
first; with a reading every few seconds that race decided the test.
"""
import json
import time

from nowmesh import boards
from nowmesh.emulation.capture import read_capture
from nowmesh.emulation.control import MediumControl
from nowmesh.emulation.mesh import DEFAULT_KEY, Emulation

V1 = boards.ESPNOW_V1_MAX_DATA_LEN
V2 = boards.ESPNOW_V2_MAX_DATA_LEN
LINE = {"nodes": [{"name": "n1"}, {"name": "n2"}, {"name": "n3"}],
        "links": [{"a": "n1", "b": "n2", "rssi": -55}, {"a": "n2", "b": "n3", "rssi": -55}]}
# a long custom quantity makes each node's reading ~190 bytes (15-byte header,
# three known values, one custom value of 2 + 150 + 1 + 1 + 4 bytes)
INTERVAL_S = 60
SENSORS = [{"kind": "internal_temp"}, {"kind": "aht20"},
           {"kind": "adc", "pin": 34, "name": "soil_" + "m" * 145, "unit": "%"}]


def _run(tmp_path, max_data_len, restart=(), seconds=25):
    """Run the line with each node's MAX_DATA_LEN for `seconds`, restart the
    nodes in `restart` (each then pulls its neighbour's whole table, unicast),
    run as long again; -> (capture records (sender, receiver or "all", length), status)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    topology = tmp_path / "line.json"
    topology.write_text(json.dumps(LINE))
    state = tmp_path / "mesh"
    for name in ("n1", "n2", "n3"):
        (state / name).mkdir(parents=True)
        (state / name / "nowmesh.json").write_text(json.dumps(
            {"name": name, "key": DEFAULT_KEY, "interval_s": INTERVAL_S, "sensors": SENSORS, "channel": 1}))
    capture = tmp_path / "air.cap"
    emu = Emulation(str(topology), state_dir=str(state), interval_s=INTERVAL_S, capture=str(capture),
                    espnow_max_data_len=max_data_len)
    with emu:
        control = MediumControl(emu.medium.address)
        time.sleep(seconds)
        for name in restart:
            emu.restart(name)
        time.sleep(seconds)
        status = {n["name"]: n for n in control.status()["nodes"]}
        control.close()
    macs = {node.mac: node.name for node in emu.nodes}
    records = [(macs[src], macs.get(dst, "all"), len(frame))
               for _t, _ch, src, dst, frame in read_capture(str(capture))]
    return records, status


def test_the_profile_gives_1470_and_250_stays_selectable():
    profile = boards.load_board("esp32-devkitc")
    assert profile["firmware"]["esp_idf"] == "5.5.1"
    assert boards.espnow_max_data_len(profile) == V2
    assert boards.espnow_max_data_len(dict(profile, espnow_max_data_len=V1)) == V1
    assert boards.espnow_max_data_len(dict(profile, firmware={"micropython": "1.22.2",
                                                              "esp_idf": "5.0.4"})) == V1
    emu = Emulation("line", nodes=2, espnow_max_data_len={"n2": V1})
    assert [emu.max_data_len(n) for n in ("n1", "n2")] == [V2, V1]


def _largest(records, sender, receivers):
    sizes = [size for src, dst, size in records if src == sender and dst in receivers]
    assert sizes, "%s sent nothing to %s: %s" % (sender, receivers, records)
    return max(sizes)


def test_v2_boards_send_large_frames_and_a_v1_board_is_sent_none(tmp_path):
    # all three offer 1470: n1, restarted, pulls n2's whole table (three ~190-byte
    # readings) and gets it in one unicast frame of over 250 bytes
    records, status = _run(tmp_path / "v2", V2, restart=["n1"])
    assert [status[n]["max_data_len"] for n in ("n1", "n2", "n3")] == [V2, V2, V2]
    assert V1 < _largest(records, "n2", ["n1"]) <= V2
    assert all(status[n]["dropped_oversize"] == 0 for n in status)

    # n3 runs a v1 build: n1 and n2 still exchange frames over 250 bytes, but
    # everything n3 should hear (n2's broadcasts, n2's full sync to the
    # restarted n3) and everything n3 sends stays within 250 ...
    records, status = _run(tmp_path / "mixed", {"n3": V1}, restart=["n1", "n3"])
    assert [status[n]["max_data_len"] for n in ("n1", "n2", "n3")] == [V2, V2, V1]
    assert V1 < _largest(records, "n2", ["n1"]) <= V2
    assert _largest(records, "n2", ["n3", "all"]) <= V1
    assert _largest(records, "n3", ["n2", "all"]) <= V1
    # ... so nothing was lost to the size limit
    assert status["n3"]["dropped_oversize"] == 0
