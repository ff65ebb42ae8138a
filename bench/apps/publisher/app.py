# bench/app_bench.py's app: n1 publishes a new value every second with
# mesh.publish (sent at once, at most once a second, and in every reading
# after); every other node runs nothing of its own.
import asyncio


async def main(mesh):
    if mesh.me.name != "n1":
        return
    count = 0
    while True:
        count += 1
        mesh.publish({"count": count})
        await asyncio.sleep_ms(1000)
