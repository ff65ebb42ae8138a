# The ESP32 port: wires the sans-I/O mesh core (mesh/) to espnow, network.WLAN,
# machine, the flash filesystem and the USB console. Only this package touches
# hardware; on the host the same code runs against emulated modules.
FIRMWARE_VERSION = "0.1.0"
