"""Applying scenario events to a running simulation, one handler per action."""


def _kill(sim, params):
    for i in params["nodes"]:
        sim.power_off(i)


def _revive(sim, params):
    targets = params.get("nodes")
    if params.get("killed"):
        targets = [n.index for n in sim.nodes if not n.alive]
    for i in targets or ():
        if not sim.nodes[i].alive:
            sim.power_on(i)


def _reboot(sim, params):
    for i in params["nodes"]:
        sim.power_off(i)
        sim.power_on(i)


def _move(sim, params):
    sim.radio.move(params["node"], params["x"], params["y"])


def _partition(sim, params):
    groups = params["groups"]
    listed = set()
    for number, group in enumerate(groups, start=1):
        for i in group:
            sim.nodes[i].group = number
            listed.add(i)
    for node in sim.nodes:
        if node.index not in listed:
            node.group = 0          # unlisted nodes form one more group of their own


def _heal(sim, params):
    for node in sim.nodes:
        node.group = 0


def _loss(sim, params):
    sim.medium.extra_loss = params["p"]


def _channel(sim, params):
    sim.nodes[params["node"]].channel = params["channel"]


ACTIONS = {
    "kill": _kill,
    "revive": _revive,
    "reboot": _reboot,
    "move": _move,
    "partition": _partition,
    "heal": _heal,
    "loss": _loss,
    "channel": _channel,
}


def apply_event(sim, event):
    ACTIONS[event.action](sim, event.params)
    sim.reachability_changed()
    sim.metrics.on_scenario_event(sim.q.now_us)
