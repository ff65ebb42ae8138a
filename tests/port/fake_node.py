# Two port Apps in one micropython process on the in-process fake radio:
# node A on the real console (stdin/stdout: a pty in the host tests), node B
# beside it, so console commands that cross the mesh (ping, remote status) work.
# Usage: micropython tests/port/fake_node.py WORKDIR
import os
import sys

import portfakes

portfakes.install()

from meshport import console as console_mod  # noqa: E402
from meshport import store  # noqa: E402
import meshport.app as app_mod  # noqa: E402

KEY = "000102030405060708090a0b0c0d0e0f"


def make(workdir, index, name, console):
    path = "%s/%s" % (workdir, name)
    try:
        os.mkdir(path)
    except OSError:
        pass
    os.chdir(path)
    store.write_json("nowmesh.json", {"name": name, "key": KEY, "interval_s": 2, "stats_s": 3})
    portfakes.ETHER.next_mac = bytes((2, 0, 0, 0, 0, index))
    app = app_mod.App(console)
    app.dir = path
    return app


def main(workdir):
    quiet = console_mod.Console(portfakes.ScriptedInput(), portfakes.Output(),
                                portfakes.Poller(portfakes.ScriptedInput()))
    b = make(workdir, 2, "beta", quiet)
    a = make(workdir, 1, "alpha", console_mod.Console())
    os.chdir(a.dir)
    while True:
        a.step()
        b.step()


main(sys.argv[1])
