# The `mesh` object a user app's `main(mesh)` gets (docs/app-api.md). A thin
# facade over the port (meshport.app.App): it owns no loop and no copy of the
# mesh's tables; it reads the node's, and the port calls its hooks
# (_arrived for every reading, values() when it publishes).
#
# Parts only some apps use live in modules of their own (PARTS):
# meshport.userapp imports them at boot when the app's code names them, so
# an app that never iterates readings() or sends a request never loads that
# code. Imported on first use otherwise (a name the scan cannot see).
import asyncio

from .commands import NODE_FIELDS, CommandError, hex_id, name_of
from .commands import run as run_command

MAX_SUBSCRIBERS = 4           # readings() iterators alive at once (the oldest is dropped)
MAX_HANDLERS = 16             # on_command + on_request names
MAX_SENSORS = 8
MAX_VALUES = 8                # values one publish() may add to the node's reading


class Me:
    def __init__(self, node_id, name):
        self.id = node_id     # "aa:bb:cc:dd:ee:ff"
        self.name = name

    def __repr__(self):
        return "<node %s %s>" % (self.name, self.id)


def _reading(app, origin, seq, values):
    return {"id": hex_id(origin), "name": name_of(app, origin), "seq": seq,
            "values": dict((v[0], v[1]) for v in values)}


def _values(values):
    """{name: value} or [(name, value, unit), ...] -> the port's value tuples."""
    if isinstance(values, dict):
        values = [(k, v, "") for k, v in values.items()]
    out = []
    for v in values:
        name, value, unit = v[0], v[1], v[2] if len(v) > 2 else ""
        if not isinstance(name, str) or not isinstance(unit, str) or \
                isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError("values are (name, number, unit): got %r" % (v,))
        out.append((name, value, unit))
    if len(out) > MAX_VALUES:
        raise ValueError("at most %d values" % MAX_VALUES)
    return out


# (a name in the app's code, the part's module): userapp.load's scan
PARTS = ((b"readings", "app_readings"), (b"request", "app_requests"))


def part(module):
    """meshport.<module>, one of PARTS' (imported at boot by userapp.preload when the app names it)."""
    return __import__("meshport." + module, None, None, ("meshport",))


def jsonable(value, depth):
    # MicroPython's json.dumps writes any other object's repr (no error):
    # the port would send a line no host can parse
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if depth <= 0:
        return False
    if isinstance(value, (list, tuple)):
        return all(jsonable(v, depth - 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and jsonable(v, depth - 1) for k, v in value.items())
    return False


class Mesh:
    def __init__(self, app):
        self._app = app
        self.me = Me(hex_id(app.node.id), app.node.name)
        self._reset()

    def _reset(self):
        """A (re)start of the app: forget what the last run registered."""
        for task in getattr(self, "_tasks", ()):
            task.cancel()
        self._tasks = []
        self._published = []
        self._sensors = []            # [name or None, values] per add_sensor
        self._subscribers = []
        self._commands = {}           # name -> (handler, open)
        self._requests = {}           # name -> handler

    # ------------------------------------------------------------- readings
    def publish(self, values):
        """Set the app's values in this node's reading ({name: number} or
        [(name, number, unit)]); sent with the configured sensors' values at
        once (at most once a second) and in every reading after."""
        self._published = _values(values)
        self._app.publish_soon()

    def latest(self):
        """{node name (or id): {"id", "name", "seq", "values": {name: value}}}, this node's too."""
        out = {}
        readings = self._app.node.readings
        for origin in readings.keys():
            r = readings[origin]
            entry = _reading(self._app, origin, r.seq, r.values)
            out[entry["name"] or entry["id"]] = entry
        return out

    def readings(self):
        sub = part("app_readings").Readings()
        if len(self._subscribers) >= MAX_SUBSCRIBERS:
            self._subscribers.pop(0)
        self._subscribers.append(sub)
        return sub

    def _arrived(self, origin, seq, values):
        if self._subscribers:
            reading = _reading(self._app, origin, seq, values)
            for sub in self._subscribers:
                sub.put(reading)

    def nodes(self):
        """[{"id", "name", "hops", "age_s", ...}] for every node known (the `nodes` command's rows)."""
        table = run_command(self._app, "nodes", {})
        return [dict(zip(NODE_FIELDS, row)) for row in table["rows"]]

    # ------------------------------------------------------------- sensors
    def add_sensor(self, read, every_s=None, name=None):
        """read() -> [(name, value, unit), ...], called every every_s seconds
        (default: the node's interval); its values join this node's reading.
        A sensor with a name joins only where the config binds it:
        {"kind": "app", "name": name} in `sensors` (docs/app-api.md)."""
        if len(self._sensors) >= MAX_SENSORS:
            raise ValueError("at most %d app sensors" % MAX_SENSORS)
        if name is not None and not isinstance(name, str):
            raise TypeError("a sensor's name is a str")
        sensor = [name, []]           # [name or None, its latest values]
        self._sensors.append(sensor)
        every_ms = int((every_s or self._app.port["interval_s"]) * 1000)
        self._tasks.append(asyncio.create_task(self._poll(read, every_ms, sensor)))

    async def _poll(self, read, every_ms, sensor):
        while True:
            try:
                sensor[1] = _values(read())
            except Exception as e:    # a failing driver costs its values, not the app
                sensor[1] = []
                self._app.user.failed_callback("sensor", e)
            self._app.publish_soon()
            await asyncio.sleep_ms(every_ms)

    def values(self):
        """The app's values in every reading: publish()'s and its unnamed sensors'."""
        out = list(self._published)
        for sensor in self._sensors:
            if sensor[0] is None:
                out.extend(sensor[1])
        return out

    def sensor_values(self, name):
        """The latest values of the sensor registered as `name` (a config
        entry {"kind": "app", "name": name} reads it: meshport.sensors)."""
        for sensor in self._sensors:
            if sensor[0] == name:
                return sensor[1]
        raise LookupError("the app registered no sensor %r (mesh.add_sensor(read, name=%r))" % (name, name))

    # ------------------------------------------------------------- commands
    def _register(self, table, name, entry):
        if not isinstance(name, str) or not name:
            raise TypeError("a handler needs a name")
        if name not in table and len(self._commands) + len(self._requests) >= MAX_HANDLERS:
            raise ValueError("at most %d handlers" % MAX_HANDLERS)
        table[name] = entry

    def on_command(self, name, handler, open=False):
        """handler(args: list of str) -> JSON-able result: an actuator,
        reachable with `nowmesh command PORT [--node N] name args...`. Only
        the operator (signed, like admin commands) may run it remotely unless
        open=True."""
        self._register(self._commands, name, (handler, open))

    def on_request(self, name, handler):
        """handler(sender_name_or_id, data) -> JSON-able answer to another node's mesh.request()."""
        self._register(self._requests, name, handler)

    def run_command(self, name, args):
        entry = self._commands.get(name)
        if entry is None:
            raise CommandError("no app command %r" % name)
        return self._call(entry[0], "command " + name, args)

    def command_open(self, name):
        entry = self._commands.get(name)
        return entry is not None and entry[1]

    def answer_request(self, sender, name, data):
        handler = self._requests.get(name)
        if handler is None:
            raise CommandError("no app request handler %r" % name)
        return self._call(handler, "request " + name, name_of(self._app, sender) or hex_id(sender), data)

    def _call(self, handler, where, *args):
        try:
            result = handler(*args)
            if not jsonable(result, 8):
                raise TypeError("the answer must be JSON: None, bool, number, str, list, dict with str keys")
            return result
        except Exception as e:
            raise CommandError("app error: " + self._app.user.failed_callback(where, e))

    async def request(self, node, name, data=None, timeout_s=10):
        """Ask `node` (name or id) for its app's `name` answer -> its answer;
        OSError on timeout, ValueError on a refusal or unknown node."""
        return await part("app_requests").request(self._app, node, name, data, timeout_s)
