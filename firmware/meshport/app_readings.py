# `async for r in mesh.readings()` (docs/app-api.md): a part of the app API
# only some apps use. meshport.userapp imports it at boot when the app's code
# names `readings` (appapi.PARTS), else appapi imports it on first use.
import asyncio

QUEUE_LEN = 8                 # readings an iterator holds before dropping the oldest (one copy for all)


class Readings:
    """Every reading the node takes in from now on (its own too), oldest
    dropped past QUEUE_LEN. Mesh._arrived puts them in."""

    def __init__(self):
        self.queue = []
        self.event = asyncio.Event()
        self.dropped = 0

    def put(self, reading):
        if len(self.queue) >= QUEUE_LEN:
            self.queue.pop(0)
            self.dropped += 1
        self.queue.append(reading)
        self.event.set()

    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self.queue:
            self.event.clear()
            await self.event.wait()
        return self.queue.pop(0)
