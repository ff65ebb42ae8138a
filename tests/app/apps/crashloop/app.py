# A user app that raises every time it runs (tests/app/test_app_live.py).
import asyncio


async def main(mesh):
    await asyncio.sleep_ms(100)
    raise ValueError("the driver exploded")
