# nowmesh firmware entry point. Ctrl-C stops the mesh and gives the normal
# REPL, so mpremote, ampy and Thonny keep working. A broken or half-deployed
# tree is reported and left at the REPL: the board is never bricked.
import sys

try:
    from meshport.app import main
except Exception as e:
    print("nowmesh: cannot start: %r" % (e,))
    main = None
    try:
        import os
        os.stat("ota/install.json")         # an OTA bundle on trial: boot.py counts this boot
        print("nowmesh: the new bundle does not start; restarting (3 such boots roll back)")
        import machine
        import time
        time.sleep(2)
        machine.reset()
    except OSError:
        pass                                 # no trial: stay at the REPL

if main is not None:
    try:
        main()
    except KeyboardInterrupt:
        print("nowmesh: stopped (Ctrl-C); REPL ready")
    except Exception as e:
        import json
        print("@nm1 " + json.dumps({"ev": "crash", "error": repr(e)}))
        sys.print_exception(e)
        import machine
        import time
        time.sleep(5)        # time to press Ctrl-C before the board restarts
        machine.reset()
