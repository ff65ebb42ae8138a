"""`deploy --all`: find every attached board (or every node of a running
emulation) and deploy to all of them in parallel, one thread per port."""
import copy
import json
import os
import threading

from nowmesh.deploy.config import load_or_create_key, load_or_create_operator_key
from nowmesh.deploy.session import deploy_board
from nowmesh.errors import InputError, ToolError

def usb_ports():
    """Attached ESP32 boards that can run MicroPython (not a chip waiting in
    its ROM bootloader): the rule of nowmesh.ports.esp_usb_ports."""
    from nowmesh.ports import ROM_DOWNLOAD_IDS, esp_usb_ports    # here: only --all needs them
    return esp_usb_ports(exclude=ROM_DOWNLOAD_IDS)


def emulated_ports(state_dir):
    """Ports of the running nodes of `nowmesh emulate --state-dir DIR`."""
    path = os.path.join(state_dir, "nodes.json")
    try:
        with open(path, encoding="utf-8") as f:
            nodes = json.load(f)["nodes"]
    except FileNotFoundError:
        raise InputError(path, None, "no running emulation here (start one with "
                                     "`nowmesh emulate --state-dir %s`)" % state_dir) from None
    except (ValueError, KeyError, TypeError):
        raise InputError(path, None, "not an emulation's nodes file") from None
    return [(n["port"], n["name"]) for n in nodes if n.get("running") and n.get("port")]


def deploy_all(targets, options, progress):
    """targets: [(port, name or None)]. -> [result or {"port", "error"}] in order.
    Every board gets the same key; each keeps its own name unless the
    target names one (emulated nodes: their emulation name)."""
    key = load_or_create_key(options.key_file)       # once, before the threads race for it
    operator_key = load_or_create_operator_key(options.operator_key_file)
    results = [None] * len(targets)

    def one(i, port, name):
        board_options = copy.copy(options)
        board_options.name = name
        try:
            results[i] = deploy_board(port, board_options, lambda *a: progress(port, *a), key=key,
                                       operator_key=operator_key)
            progress(port, "done")
        except (ToolError, InputError, OSError) as exc:
            results[i] = {"port": port, "error": str(exc)}
            progress(port, "failed", str(exc))
        except Exception as exc:      # noqa: BLE001 -- one board's surprise must not cost the others' results
            results[i] = {"port": port, "error": "%s: %s" % (type(exc).__name__, exc)}
            progress(port, "failed", results[i]["error"])

    threads = [threading.Thread(target=one, args=(i, port, name), daemon=True)
               for i, (port, name) in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
