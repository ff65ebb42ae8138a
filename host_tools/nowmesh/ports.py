"""Which serial ports exist and what is attached to each.

Three sources, one list of plain dicts (JSON-able):
- USB serial ports from pyserial's `list_ports.comports()` (the seam tests
  replace), with a best guess by VID:PID from USB_BRIDGES and the board
  profiles' `usb` hints;
- emulated nodes of running emulations (nowmesh.emulation.registry -> DIR/nodes.json);
- optionally a probe of each port (nowmesh.port_probe): MicroPython at the
  REPL, nowmesh running (name, id, firmware), silent, busy.
"""
from concurrent.futures import ThreadPoolExecutor

from serial.tools import list_ports as serial_list_ports

from nowmesh import boards
from nowmesh.emulation import registry as emulation_registry
from nowmesh.port_probe import probe_port

# VID:PID -> (short name, what it means). USB-serial bridges sit in front of
# the ESP32's UART; the Espressif ids are the chip's own USB.
USB_BRIDGES = {
    ("10c4", "ea60"): ("CP210x", "Silicon Labs CP210x USB-UART bridge"),
    ("1a86", "7523"): ("CH340", "WCH CH340 USB-UART bridge"),
    ("1a86", "55d4"): ("CH9102", "WCH CH9102 USB-UART bridge"),
    ("0403", "6001"): ("FTDI", "FTDI FT232R USB-UART bridge"),
    ("0403", "6010"): ("FTDI", "FTDI FT2232 USB-UART bridge (often ESP-Prog)"),
    ("0403", "6014"): ("FTDI", "FTDI FT232H USB-UART bridge"),
    ("0403", "6015"): ("FTDI", "FTDI FT231X USB-UART bridge"),
    ("303a", "1001"): ("Espressif USB-Serial/JTAG", "ESP32-S3/C3/C6 built-in USB-Serial/JTAG"),
    ("303a", "4001"): ("MicroPython TinyUSB", "MicroPython's own USB CDC (native USB, e.g. ESP32-S2/S3)"),
    ("303a", "0002"): ("Espressif ROM download", "ESP32-S2/S3 in ROM download mode (ready to flash)"),
}
# The bridges that front ESP32 boards: probed by default (others only with --probe,
# since a probe writes a few bytes to the port).
ESP_LIKELY = frozenset(USB_BRIDGES)


def _hex4(value):
    return None if value is None else "%04x" % value


def board_hints(vid, pid, profiles=None):
    """Names of board profiles whose `usb` list has this VID:PID."""
    if vid is None or pid is None:
        return []
    if profiles is None:
        profiles = _all_profiles()
    return sorted(p["name"] for p in profiles
                  if any(u["vid"] == vid and u["pid"] == pid for u in p.get("usb", ())))


# A chip waiting in its ROM bootloader: flashable, but no MicroPython REPL yet.
ROM_DOWNLOAD_IDS = frozenset({("303a", "0002")})


def esp_usb_ports(comports=None, exclude=()):
    """Device paths, sorted, of serial ports whose VID:PID is an ESP32 board's:
    a bridge of USB_BRIDGES or a board profile's `usb` id. The one rule
    `flash --all` and `deploy --all` (which excludes ROM_DOWNLOAD_IDS) share."""
    known = set(USB_BRIDGES)
    for profile in _all_profiles():
        known.update((u["vid"], u["pid"]) for u in profile.get("usb", ()))
    known -= set(exclude)
    found = (comports or serial_list_ports.comports)()
    return sorted(p.device for p in found
                  if p.vid is not None and (_hex4(p.vid), _hex4(p.pid)) in known)


def _all_profiles():
    found = []
    for name in boards.list_boards():
        try:
            found.append(boards.load_board(name))
        except Exception:             # noqa: BLE001 -- a broken profile must not hide ports
            continue
    return found


def describe_usb_port(info, profiles=None):
    """One pyserial ListPortInfo -> {"port", "kind", "vid", "pid", "bridge", "guess", "boards", ...}."""
    vid, pid = _hex4(info.vid), _hex4(info.pid)
    bridge = USB_BRIDGES.get((vid, pid))
    hints = board_hints(vid, pid, profiles)
    if bridge:
        guess = bridge[1]
    elif hints:
        guess = "USB ids of board %s" % ", ".join(hints)
    elif vid is not None:
        guess = "unknown USB device"
    else:
        guess = "not a USB port"
    return {"port": info.device, "kind": "usb" if vid is not None else "serial",
            "vid": vid, "pid": pid, "bridge": bridge[0] if bridge else None, "guess": guess,
            "boards": hints, "description": _clean(info.description),
            "manufacturer": _clean(info.manufacturer), "serial_number": _clean(info.serial_number),
            "location": _clean(info.location)}


def _clean(text):
    return None if text in (None, "", "n/a") else text


def emulated_ports():
    """Ports of nodes in running emulations (one entry per running node)."""
    found = []
    for emulation in emulation_registry.running_emulations():
        for node in emulation_registry.read_nodes(emulation["state_dir"]):
            if not node.get("running") or not node.get("port") or \
                    not emulation_registry.pid_alive(node.get("pid")):
                continue
            found.append({"port": node["port"], "kind": "emulated", "vid": None, "pid": None,
                          "bridge": None, "guess": "emulated node %s" % node.get("name"),
                          "boards": [], "node": node.get("name"), "mac": node.get("mac"),
                          "process": node.get("pid"), "state_dir": emulation["state_dir"]})
    return found


def list_ports(probe=None, comports=None, profiles=None, emulated=True, probe_timeout=1.5):
    """Every port with its best guess; probe=None probes the ESP-like and emulated
    ones, True every port, False none. `comports` replaces pyserial's (tests)."""
    infos = (comports or serial_list_ports.comports)()
    found = [describe_usb_port(info, profiles) for info in sorted(infos, key=lambda i: i.device)]
    if emulated:
        found.extend(emulated_ports())
    chosen = [entry for entry in found if _should_probe(entry, probe)]
    if chosen:
        with ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
            results = pool.map(lambda entry: probe_port(entry["port"], timeout=probe_timeout), chosen)
            for entry, result in zip(chosen, results):
                entry["probe"] = result
    for entry in found:
        entry.setdefault("probe", None)
    return found


def _should_probe(entry, probe):
    if probe is not None:
        return probe
    return entry["kind"] == "emulated" or (entry["vid"], entry["pid"]) in ESP_LIKELY
