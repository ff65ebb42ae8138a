# A user app using the whole `mesh` API (tests/app/test_app_live.py): n1
# asks n2's app (by name) and n3's (by id) and publishes what came back;
# `ask NODE` asks any node by name (one far away: a name learnt by asking);
# every node adds a
# sensor, a named one its config may bind ({"kind": "app", "name":
# "moisture"}), and answers requests; commands, one open.
import asyncio
import time

state = {"pump": "off", "heard": 0}


def soil():
    return [("soil", 42.5, "%")]


def echo(sender, data):
    return {"from": sender, "data": data}


def pump(args):
    state["pump"] = args[0]
    return {"pump": state["pump"]}


def light(args):
    return {"light": args}


async def stall(ms):
    time.sleep_ms(ms)             # a task that computes without yielding holds the radio loop


async def count_readings(mesh):
    async for _r in mesh.readings():
        state["heard"] += 1


async def main(mesh):
    mesh.add_sensor(soil, every_s=1)
    mesh.add_sensor(lambda: [("moisture", 17, "%")], every_s=1, name="moisture")
    mesh.on_request("echo", echo)
    mesh.on_command("pump", pump)
    mesh.on_command("light", light, open=True)
    mesh.on_command("heard", lambda args: {"heard": state["heard"], "latest": sorted(mesh.latest()),
                                           "nodes": sorted(n["name"] or n["id"] for n in mesh.nodes())})
    mesh.on_command("odd", lambda args: object())      # not JSON: an error answer, never a crash
    mesh.on_command("stall", lambda args: asyncio.create_task(stall(int(args[0]))) and {"stalling": True})
    asyncio.create_task(count_readings(mesh))

    async def ask(target):
        # over a lossy mesh a request can go unanswered (OSError): an app asks again
        for attempt in (1, 2):
            try:
                state["asked"] = await mesh.request(target, "echo", {"x": 9}, timeout_s=10)
                return
            except OSError as e:
                if attempt == 2:
                    state["asked"] = repr(e)
            except ValueError as e:
                state["asked"] = repr(e)
                return
    mesh.on_command("ask", lambda args: asyncio.create_task(ask(args[0])) and {"asking": args[0]})
    mesh.on_command("asked", lambda args: state.get("asked"))
    if mesh.me.name != "n1":
        return
    while True:
        await asyncio.sleep_ms(1000)
        values = {}
        for key, target in (("echo_n2", "n2"), ("echo_n3", "02:4e:4d:00:00:03")):
            try:
                answer = await mesh.request(target, "echo", {"x": 7}, timeout_s=3)
                values[key] = answer["data"]["x"]
            except (OSError, ValueError):
                pass
        if values:
            mesh.publish(values)
