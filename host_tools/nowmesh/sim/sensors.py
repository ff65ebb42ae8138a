"""Simulated sensor values: smooth, plausible, deterministic per node and seed."""
import math
import random


class SimulatedSensors:
    def __init__(self, seed):
        self.seed = seed
        self._phase = {}

    def read(self, node, t_us):
        phase = self._phase.get(node)
        if phase is None:
            stream = random.Random("%s/sensor/%d" % (self.seed, node))
            phase = self._phase[node] = (stream.uniform(17, 24), stream.uniform(35, 60),
                                         stream.uniform(0, 2 * math.pi))
        base_temp, base_rh, offset = phase
        hours = t_us / 3.6e9
        wave = math.sin(2 * math.pi * hours / 24 + offset)
        return [("temp", round(base_temp + 2.0 * wave, 2), "C"),
                ("rh", round(base_rh - 5.0 * wave, 1), "%")]
