# nowmesh boot: finish or undo an over-the-mesh install that a power cut
# interrupted, and roll back a new bundle that did not confirm itself in 3
# boots (meshport/ota_boot.py, docs/ota.md). Nothing else: main.py starts
# the mesh. Whatever fails here, the board still reaches main.py and its REPL.
try:
    import meshport
    from meshport import ota_boot
    ota_boot.run(ota_boot.cut_hook())       # no hook on a board: an emulated power switch
    import sys
    del sys.modules["meshport.ota_boot"]      # its heap goes back to the firmware
    del meshport.ota_boot, ota_boot
except Exception as e:
    print("nowmesh: OTA boot check failed: %r" % (e,))
