# A config entry {"kind": "app", "name": "soil"} binds a sensor the user's
# app registers (mesh.add_sensor(read, name="soil"), docs/app-api.md): the
# bound sensor's values join the reading, a named sensor no entry binds stays
# out, an entry no sensor answers is reported (a `sensor` event), never fatal.
# Under micropython only (make test-upy), like all of tests/port.
import portfakes

portfakes.install()

from mesh.config import ConfigError  # noqa: E402
from meshport import settings  # noqa: E402

from test_port import _make_app, _messages  # noqa: E402

MAC = bytes((2, 0, 0, 0, 0, 1))
SENSORS = [{"kind": "app", "name": "soil"}, {"kind": "app", "name": "leaf"}]


def _config_error(sensors):
    try:
        settings.split({"name": "a", "key": "00" * 16, "sensors": sensors}, MAC)
    except ConfigError as e:
        return e.field, e.message
    return None


def test_an_app_sensor_entry_needs_a_name():
    assert _config_error([{"kind": "app", "name": "soil"}]) is None
    for bad in ({"kind": "app"}, {"kind": "app", "name": ""}, {"kind": "app", "name": 7},
                {"kind": "app", "name": "x" * 33}):
        field, message = _config_error([bad])
        assert field == "sensors" and "name" in message, (bad, message)


def _with_app(config):
    import asyncio
    from meshport import userapp
    app = _make_app(71, config)

    async def main(mesh):
        pass
    app.user = userapp.start(app, (main, None))
    mesh = app.user.mesh

    async def register():
        mesh.add_sensor(lambda: [("soil", 41.5, "%")], name="soil")       # bound by the config
        mesh.add_sensor(lambda: [("wind", 9, "kmh")], name="wind")         # named, bound nowhere
        mesh.add_sensor(lambda: [("rain", 3, "mm")])                       # unnamed: always
        await asyncio.sleep_ms(0)     # each poll task reads its sensor once
    asyncio.run(register())
    return app


def _published(app):
    now = app.clock.now()
    app.send_all(app._publish(now))
    return [v[0] for v in app.node.readings[app.node.id].values]


def _sensor_events(app):
    return [m for m in _messages(app) if m.get("ev") == "sensor"]


def test_a_bound_app_sensor_joins_the_reading_and_an_unbound_one_does_not():
    app = _with_app({"sensors": SENSORS})
    names = _published(app)
    assert "soil" in names and "rain" in names
    assert "wind" not in names        # registered with a name the config does not bind
    assert names.count("soil") == 1


def test_an_entry_no_app_sensor_answers_is_reported_and_the_node_publishes_on():
    app = _with_app({"sensors": SENSORS})
    names = _published(app)
    assert "uptime" in names and "soil" in names
    events = _sensor_events(app)
    assert len(events) == 1 and events[0]["kind"] == "app" and events[0]["ok"] is False
    assert "leaf" in events[0]["error"] and "add_sensor" in events[0]["error"]
    _published(app)
    assert len(_sensor_events(app)) == 1      # reported once per change, not every reading


def test_an_app_sensor_entry_on_a_node_without_an_app_is_reported():
    app = _make_app(72, {"sensors": SENSORS})
    now = app.clock.now()
    app.send_all(app._publish(now))
    assert "uptime" in [v[0] for v in app.node.readings[app.node.id].values]
    events = _sensor_events(app)
    assert [e["kind"] for e in events] == ["app", "app"]
    assert all("no app on this node" in e["error"] for e in events)
