"""Old module paths kept for one release after the emulation moved into
`nowmesh.emulation` and the radio model out of `nowmesh.sim` into
`nowmesh.radio`: importing (or `python -m`) an old name warns and hands
out the new module itself, so old and new names share one set of classes.

An import hook, not stub files at the old paths: the old paths stay free, so
git follows each moved file to its new place when branches merge.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "nowmesh.emulator": "nowmesh.emulation.mesh",
    "nowmesh.emulate_control": "nowmesh.emulation.control",
    "nowmesh.emulation_registry": "nowmesh.emulation.registry",
    "nowmesh.capture": "nowmesh.emulation.capture",
    "nowmesh.live_demo": "nowmesh.emulation.live_demo",
    "nowmesh.emunode": "nowmesh.emulation.board",
    "nowmesh.emunode.board": "nowmesh.emulation.board.pty_board",
    "nowmesh.rombootloader": "nowmesh.emulation.rom",
    "nowmesh.image.flashboot": "nowmesh.emulation.rom.flashboot",
    "nowmesh.image.download": "nowmesh.emulation.rom.download",
    "nowmesh.emulation.medium_server": "nowmesh.emulation.medium.server",
    "nowmesh.sim.radio": "nowmesh.radio.model",
    "nowmesh.sim.medium": "nowmesh.radio.medium",
    "nowmesh.sim.events": "nowmesh.radio.events",
    "nowmesh.sim.topology": "nowmesh.radio.topology",
    "nowmesh.sim.scenario": "nowmesh.radio.scenario",
}


def new_name(old_name):
    """The module an old name now is (submodules of a moved package follow it), or None."""
    if old_name in MOVED:
        return MOVED[old_name]
    parent, _, leaf = old_name.rpartition(".")
    moved_parent = MOVED.get(parent)
    return moved_parent + "." + leaf if moved_parent else None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, old_name, target):
        self.old_name, self.target = old_name, target

    def create_module(self, spec):
        warnings.warn("%s moved to %s; the old name goes in the next release" % (self.old_name, self.target),
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(self.target)
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module):
        # The import system stamped the alias spec on the real module: put its own back.
        module.__spec__ = self._real_spec
        module.__loader__ = self._real_spec.loader

    def get_code(self, fullname):
        # `python -m OLD_NAME` runs the new module's code as __main__.
        return importlib.util.find_spec(self.target).loader.get_code(self.target)


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        target_name = new_name(fullname)
        if target_name is None:
            return None
        real = importlib.util.find_spec(target_name)
        if real is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(fullname, target_name),
                                               is_package=real.submodule_search_locations is not None)


def install():
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())   # last: a real module of that name always wins
