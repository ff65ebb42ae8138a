"""The one MQTT schema (docs/mqtt.md) is firmware: `meshport/mqtt_schema.py`
in the bundled firmware tree, which the board gateway imports and the host
bridge loads from here, so both publish from one copy. Loaded by path as
this module (nowmesh.mqtt.schema), without putting the firmware's packages
on sys.path (nowmesh.bundle.core keeps that explicit)."""
import importlib.util
import os
import sys

from nowmesh.bundle.tree import firmware_dir

_spec = importlib.util.spec_from_file_location(__name__, os.path.join(firmware_dir(), "meshport", "mqtt_schema.py"))
_schema = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_schema)
sys.modules[__name__] = _schema
