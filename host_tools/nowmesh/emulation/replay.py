"""An attacker's radio for a running emulation: put every frame of a capture
(written by `nowmesh emulate --capture`) back on the air, in order, each from
its recorded sender MAC and to its recorded destination, through the
emulation's medium. The nodes hear them as they would hear a replay on a
real board's channel, so replay attacks run live against the real firmware.

    replay_capture("/tmp/mesh", "/tmp/mesh.cap")     # -> {"frames": n, "sent": n, ...}

Differences from a real attacker: the frame leaves from the recorded sender's
position (the emulation has no separate attacker node), so it reaches exactly
who hears that node now, and only while that node is on the air.
"""
import time

from nowmesh.emulation.capture import read_capture
from nowmesh.emulation.control import request
from nowmesh.errors import ToolError

DEFAULT_GAP_MS = 5.0        # between frames: a burst would overrun the nodes' receive buffers


def replay_capture(state_dir, capture_path, gap_ms=DEFAULT_GAP_MS, progress=None):
    """Replay every record of capture_path into the emulation in state_dir ->
    {"frames", "sent", "skipped": {mac: count} for senders it does not have}."""
    from nowmesh.emulation.control import MediumControl, MediumError
    records = read_capture(capture_path)          # InputError for a bad file, before anything is sent
    host, _, port = request(state_dir, "status")["medium"].rpartition(":")
    sent, skipped = 0, {}
    try:
        with MediumControl((host, int(port))) as medium:
            for index, (_t_us, _channel, src, dst, frame) in enumerate(records):
                try:
                    medium.inject(src, dst, frame)
                    sent += 1
                except MediumError:               # a MAC this emulation has no node for
                    key = src.hex(":")
                    skipped[key] = skipped.get(key, 0) + 1
                if progress is not None:
                    progress(index + 1, len(records))
                time.sleep(gap_ms / 1000.0)
    except OSError as exc:
        raise ToolError("the medium of the emulation in %s went away: %s" % (state_dir, exc)) from None
    return {"frames": len(records), "sent": sent, "skipped": skipped}
