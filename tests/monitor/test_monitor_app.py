"""The dashboard renders from a recorded record source (textual's pilot): the
nodes table fills, readings and events show, keys send ping/status/poll."""
import asyncio
import queue

from textual.widgets import DataTable, RichLog, Static

from nowmesh.monitor.app import MonitorApp
from nowmesh.monitor.session import MonitorSession
from test_monitor_model import MAC, recorded


class RecordedLink:
    """A link that plays back recorded records and remembers what it was asked."""

    def __init__(self, records):
        self.records = queue.Queue()
        for record in records:
            self.records.put(record)
        self.requests = []
        self.polls = 0
        self.remote = []
        self.started = self.stopped = False

    def request(self, cmd, args=None, node=None):
        self.requests.append((cmd, args, node))

    def poll_now(self):
        self.polls += 1

    def remember_remote(self, node_ids):
        self.remote = list(node_ids)

    def start(self):
        self.started = True
        return self

    def stop(self):
        self.stopped = True


def rows(table):
    return [table.get_row_at(i) for i in range(table.row_count)]


def run_pilot(script):
    records = recorded()
    link = RecordedLink(records)
    app = MonitorApp(MonitorSession(link), clock=lambda: records[-1]["t"] + 10, refresh_s=0.05)

    async def go():
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.2)
            await script(app, pilot, link)
    asyncio.run(go())
    return link


def test_the_dashboard_fills_from_the_recorded_stream():
    seen = {}

    async def script(app, pilot, link):
        seen["nodes"] = rows(app.query_one("#nodes", DataTable))
        seen["readings"] = rows(app.query_one("#readings", DataTable))
        seen["events"] = len(app.query_one("#events", RichLog).lines)
        seen["link"] = str(app.query_one("#link", Static).render())
        seen["remote"] = link.remote

    link = run_pilot(script)
    assert link.started and link.stopped                  # the app owns the link's life
    nodes = seen["nodes"]
    assert [r[0] for r in nodes] == ["n1 *", "n2", "n3", "n4"]
    assert [r[1] for r in nodes] == [MAC % i for i in range(1, 5)]
    assert [r[2] for r in nodes] == ["0", "1", "2", "3"]
    assert nodes[1][4] == "-95 dBm" and nodes[0][4] == "-"
    assert all(r[3].endswith("s") and r[3] != "-" for r in nodes)
    assert nodes[0][6] == "96896"
    assert {r[0] for r in seen["readings"]} == {"n1", "n2", "n3", "n4"}
    assert ("n2", "rh") in {(r[0], r[1]) for r in seen["readings"]}
    # float32 noise from the node (56.400001525878906) is shown as the 6 digits it holds
    assert all(len(r[2].replace(".", "").replace("-", "")) <= 6 for r in seen["readings"])
    assert all(r[3] in ("C", "%", "s", "B") and r[4].endswith("s") for r in seen["readings"])
    assert seen["events"] >= 1
    assert "connected" in seen["link"] and "n1" in seen["link"] and "0.1.0" in seen["link"]
    assert sorted(seen["remote"]) == [MAC % i for i in range(2, 5)]


def test_keys_ping_and_query_the_selected_node():
    async def script(app, pilot, link):
        await pilot.press("p")                             # n1 is this node: nothing to ping
        assert link.requests == []
        await pilot.press("s")
        await pilot.press("down", "down", "p", "s", "r")
        await pilot.pause(0.2)
        assert app.selected_node() == MAC % 3              # the selection survives redraws

    link = run_pilot(script)
    assert link.requests == [("status", None, None), ("ping", {"node": MAC % 3}, None),
                             ("status", None, MAC % 3)]
    assert link.polls == 1


def test_ctrl_c_quits_and_stops_the_link():
    async def script(app, pilot, link):
        await pilot.press("ctrl+c")
        await pilot.pause(0.2)
        assert app.return_code == 0               # exit() was called: the app is on its way out

    assert run_pilot(script).stopped


def test_the_link_state_shows_a_reconnect():
    async def script(app, pilot, link):
        link.records.put({"ev": "link", "t": 5.0, "state": "reconnecting", "port": "/dev/ttyUSB0",
                          "detail": "no such port"})
        await pilot.pause(0.3)
        text = str(app.query_one("#link", Static).render())
        assert "reconnecting" in text and "no such port" in text
        events = app.query_one("#events", RichLog).lines
        assert "link reconnecting: no such port" in "".join(str(line.text) for line in events)

    run_pilot(script)
