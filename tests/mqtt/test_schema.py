"""The MQTT schema's pure functions: discovery, state, availability, commands."""
import json

import pytest

from nowmesh.mqtt import schema
from nowmesh.mqtt.options import check_setting, parse_broker_url
from nowmesh.errors import InputError

MAC = "24:0a:c4:12:34:56"
VALUES = [["temp", 21.4, "C"], ["rh", 48.0, "%"], ["pressure", 1013.2, "hPa"], ["lux", 120, "lux"],
          ["uptime", 170, "s"], ["heap", 61000, "B"], ["adc34", 12.5, "%"], ["depth", 3.0, "furlong"],
          ["mode", "eco", None]]


def _config():
    node = {"id": MAC, "name": "kitchen", "board": "esp32-devkitc", "fw": "0.1.0"}
    topic, payload, retain = schema.discovery_message("homeassistant", "nowmesh", node, VALUES,
                                                      "nowmesh_bridge_x", "9.9")
    assert retain and topic == "homeassistant/device/nowmesh_240ac4123456/config"
    return json.loads(payload)


def test_discovery_carries_device_origin_and_one_component_per_quantity():
    config = _config()
    assert config["dev"] == {"ids": [MAC], "name": "kitchen", "mf": "nowmesh", "mdl": "esp32-devkitc",
                             "sw": "0.1.0", "via_device": "nowmesh_bridge_x"}
    assert config["o"] == {"name": "nowmesh", "sw": "9.9"}
    quantities = {c["value_template"] for c in config["cmps"].values()}
    for name, _value, _unit in VALUES:
        assert "{{ value_json['values'][\"%s\"] }}" % name in quantities
    ids = [c["unique_id"] for c in config["cmps"].values()]
    assert len(ids) == len(set(ids)) and all(c["p"] for c in config["cmps"].values())
    assert config["state_topic"] == "nowmesh/240ac4123456/state"
    assert [a["topic"] for a in config["availability"]] == ["nowmesh/bridge/state", "nowmesh/240ac4123456/availability"]


def test_units_are_mapped_to_home_assistants_and_checked_against_the_class():
    cmps = _config()["cmps"]
    assert cmps["q_temp"]["device_class"] == "temperature" and cmps["q_temp"]["unit_of_measurement"] == "°C"
    assert cmps["q_rh"]["device_class"] == "humidity"
    assert cmps["q_pressure"]["device_class"] == "atmospheric_pressure"
    assert cmps["q_lux"]["unit_of_measurement"] == "lx" and cmps["q_lux"]["device_class"] == "illuminance"
    # unknown quantities appear, without a device class; a unit HA does not know stays a plain unit
    assert "device_class" not in cmps["q_adc34"] and cmps["q_adc34"]["unit_of_measurement"] == "%"
    assert "device_class" not in cmps["q_depth"]
    # a text value gets no unit and no state class (HA would refuse a non-number)
    assert "state_class" not in cmps["q_mode"] and "unit_of_measurement" not in cmps["q_mode"]
    for comp in cmps.values():
        if "device_class" in comp and comp["device_class"] in schema.ALLOWED_UNITS:
            assert comp.get("unit_of_measurement") in schema.ALLOWED_UNITS[comp["device_class"]]


def test_a_unit_outside_the_class_drops_the_class_not_the_entity():
    comp = schema.quantity_component(MAC, "temp", "kelvinish", 3.0)
    assert "device_class" not in comp and comp["unit_of_measurement"] == "kelvinish"


def test_diagnostic_entities():
    cmps = _config()["cmps"]
    for key in ("rssi", "hops", "time", "q_uptime", "q_heap", ):
        assert cmps[key]["entity_category"] == "diagnostic", key
    assert cmps["rssi"]["unit_of_measurement"] == "dBm" and cmps["time"]["device_class"] == "timestamp"
    assert "entity_category" not in cmps["q_temp"]


def test_state_payload_and_time():
    topic, payload, retain = schema.state_message("nowmesh", MAC, "kitchen", 17, VALUES, schema.iso_utc(0), 2, -61)
    state = json.loads(payload)
    assert retain and topic == "nowmesh/240ac4123456/state"
    assert state["seq"] == 17 and state["values"]["temp"] == 21.4 and state["hops"] == 2
    assert state["time"] == "1970-01-01T00:00:00Z"
    assert schema.iso_utc(1796419888) == "2026-12-04T21:31:28Z"
    assert schema.iso_utc(951782400) == "2000-02-29T00:00:00Z"


def test_availability_learns_the_interval_and_flips():
    av = schema.Availability(default_interval_s=30)
    for seq in range(1, 6):
        av.heard(MAC, seq, 100.0 + 3 * seq)
    assert av.interval_s(MAC) == pytest.approx(3.0)
    assert av.changes(115.0) == [(MAC, True)]
    assert av.changes(115.0 + 8.9) == []
    assert av.changes(115.0 + 9.1) == [(MAC, False)]
    av.heard(MAC, 1, 130.0)                 # rebooted: seq starts again, heard again
    assert av.changes(130.5) == [(MAC, True)]
    assert av.interval_s(MAC) == pytest.approx(3.0)


def test_commands_refused_unless_allowed_and_validated():
    with pytest.raises(schema.Refused, match="allow-commands"):
        schema.parse_command("nowmesh", "nowmesh/240ac4123456/ping", b"", False, check_setting)
    assert schema.parse_command("nowmesh", "nowmesh/240ac4123456/reboot", b"", True, check_setting) == \
        ("240ac4123456", "reboot", [("reboot", None)])
    key, cmd, steps = schema.parse_command("nowmesh", "nowmesh/n2/set", b'{"interval_s": 5, "name": "shed"}',
                                           True, check_setting)
    assert steps == [("config_set", {"field": "interval_s", "value": 5}),
                     ("config_set", {"field": "name", "value": "shed"})]
    for payload, reason in ((b'{"interval_s": 0}', "interval_s: must be a number"),
                            (b'{"key": "00"}', "never travels"),
                            (b'{"colour": 1}', "unknown config key"),
                            (b"[1]", "JSON object"), (b"\xff", "JSON object"), (b"{}", "JSON object")):
        with pytest.raises(schema.Refused, match=reason):
            schema.parse_command("nowmesh", "nowmesh/n2/set", payload, True, check_setting)


def test_an_app_command_is_a_name_and_a_list_of_strings():
    assert "nowmesh/+/command" in schema.command_filters("nowmesh")
    assert schema.parse_command("nowmesh", "nowmesh/n2/command", b'{"name": "pump", "args": ["on"]}', True,
                                check_setting) == ("n2", "command", [("app", {"name": "pump", "args": ["on"]})])
    assert schema.parse_command("nowmesh", "nowmesh/n2/command", b'{"name": "fan"}', True,
                                check_setting)[2] == [("app", {"name": "fan", "args": []})]
    for payload, reason in ((b'{"args": ["on"]}', "'name'"), (b'{"name": ""}', "'name'"),
                            (b'{"name": "p", "args": "on"}', "'args'"), (b'{"name": "p", "args": [1]}', "'args'"),
                            (json.dumps({"name": "p", "args": ["x"] * 9}).encode(), "'args'"),
                            (b'"pump"', "JSON object"), (b"\xff", "JSON object")):
        with pytest.raises(schema.Refused, match=reason):
            schema.parse_command("nowmesh", "nowmesh/n2/command", payload, True, check_setting)


def test_inbound_messages_one_meaning_for_both_bridges():
    def kind(topic, payload):
        return schema.inbound("nowmesh", "homeassistant", topic, payload)
    assert "nowmesh/bridge/state" in schema.inbound_filters("nowmesh", "homeassistant")
    assert kind("nowmesh/bridge/state", b"offline") == "carrier_left"     # another carrier's will
    assert kind("nowmesh/bridge/state", b"online") is None                # ours, or another's: nothing to do
    assert kind("homeassistant/status", b"online\n") == "homeassistant"
    assert kind("homeassistant/status", b"offline") is None
    assert kind("nowmesh/240ac4123456/ping", b"") == "command"


def test_nodes_resolve_by_mac_key_or_name():
    nodes = [("02:00:00:00:00:01", "n1"), ("02:00:00:00:00:02", None)]
    assert schema.resolve_node("020000000002", nodes) == "02:00:00:00:00:02"
    assert schema.resolve_node("n1", nodes) == "02:00:00:00:00:01"
    with pytest.raises(schema.Refused, match="unknown node"):
        schema.resolve_node("n3", nodes)


def test_a_gateway_names_how_to_enable_commands_and_refuses_credentials():
    with pytest.raises(schema.Refused, match="deploy it"):
        schema.parse_command("nowmesh", "nowmesh/n2/ping", b"", False, check_setting, "deploy it")
    for field in ("wifi", "mqtt", "mqtt_commands"):
        with pytest.raises(schema.Refused, match="%s: not settable" % field):
            schema.parse_command("nowmesh", "nowmesh/n2/set", json.dumps({field: 1}).encode(), True, check_setting)


def test_topic_parts_and_broker_urls():
    assert schema.check_topic_part("base", "home/mesh") == "home/mesh"
    for bad in ("", "a/#", "a/+/b", "/a", "a//b"):
        with pytest.raises(ValueError):
            schema.check_topic_part("base", bad)
    broker = parse_broker_url("mqtts://ha:s%40cret@broker.lan")
    assert (broker.host, broker.port, broker.tls, broker.username, broker.password) == \
        ("broker.lan", 8883, True, "ha", "s@cret")
    assert "cret" not in str(broker)
    for bad in ("http://h", "mqtt://", "mqtt://h:70000", "mqtt://h/topic", "h:1883"):
        with pytest.raises(InputError):
            parse_broker_url(bad)


def test_the_schema_runs_under_micropython_with_the_same_output():
    """The board gateway carries this module (meshport.mqtt_schema): the same calls under the real
    micropython interpreter give the same messages as under CPython."""
    import os
    import subprocess
    import sys
    firmware = os.path.dirname(os.path.dirname(schema.__file__))     # the bundled firmware tree
    script = ("import json\nfrom meshport import mqtt_schema as schema\n"
              "node = {'id': %r, 'name': 'kitchen', 'board': 'esp32-devkitc', 'fw': '0.1.0'}\n"
              "values = %r\n"
              "out = [schema.discovery_message('homeassistant', 'nowmesh', node, values, 'b', '9'),\n"
              "       schema.state_message('nowmesh', node['id'], 'kitchen', 3, values, schema.iso_utc(1796419888)),\n"
              "       schema.parse_command('nowmesh', 'nowmesh/n2/set', b'{\"name\": \"x\"}', True, lambda f, v: None)]\n"
              "print(json.dumps(out))\n" % (MAC, VALUES))
    upy = os.path.join(os.path.dirname(sys.executable), "micropython")
    result = subprocess.run([upy, "-c", script], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, MICROPYPATH=firmware))
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    node = {"id": MAC, "name": "kitchen", "board": "esp32-devkitc", "fw": "0.1.0"}
    want = [schema.discovery_message("homeassistant", "nowmesh", node, VALUES, "b", "9"),
            schema.state_message("nowmesh", MAC, "kitchen", 3, VALUES, schema.iso_utc(1796419888)),
            schema.parse_command("nowmesh", "nowmesh/n2/set", b'{"name": "x"}', True, lambda f, v: None)]
    for upy_msg, py_msg in zip(got[:2], want[:2]):
        assert upy_msg[0] == py_msg[0] and upy_msg[2] == py_msg[2]
        assert json.loads(upy_msg[1]) == json.loads(py_msg[1])
    assert got[2] == json.loads(json.dumps(want[2]))
