# What ships to a board, declared once (micropython-lib's manifest.py is the
# model). Read by the host tools (nowmesh.bundle.manifest), never run on a
# board: deploy, image and the emulator put exactly these files on a board's
# filesystem.
#   module(path): copied as source (MicroPython runs boot.py and main.py by name)
#   package(name): every .py under it, compiled with mpy-cross to .mpy
#   require(name): a micropython-lib module, pinned in nowmesh.bundle.upylib,
#                  compiled into lib/ (the gateway's MQTT client, docs/mqtt.md)
module("boot.py")
module("main.py")
package("mesh")
package("meshport")
require("umqtt.simple")
