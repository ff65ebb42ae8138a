# Emulated `aioespnow` for nowmesh's emulated nodes (emulation only).
#
# As micropython-lib's aioespnow: AIOESPNow is ESPNow plus arecv(), airecv(),
# asend() and `async for`. Where the board version waits on the ESPNow
# object's poll ioctl, this one waits on the medium connection's socket
# (asyncio's own I/O queue), so a node idles in select() like any asyncio task.
import asyncio

import _nowmesh_link
import espnow


class AIOESPNow(espnow.ESPNow):
    async def arecv(self):
        while not self.any():
            yield asyncio.core._io_queue.queue_read(_nowmesh_link.link().sock)
        return self.recv(0)

    async def airecv(self):
        while not self.any():
            yield asyncio.core._io_queue.queue_read(_nowmesh_link.link().sock)
        return self.irecv(0)

    async def asend(self, mac, msg=None, sync=None):
        if msg is None:
            msg, mac = mac, None
        # The board yields until earlier sends have their responses; send()
        # waits for them itself, a few milliseconds on the emulated air.
        return self.send(mac, msg, sync)

    def __aiter__(self):
        return self

    async def __anext__(self):
        return await self.airecv()
