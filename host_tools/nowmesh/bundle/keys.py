"""The key files, written and read in one place.

The network key (./nowmesh-key.json) is made once, on the first deploy or
image, so every node deployed from a project joins the same mesh; an
emulation keeps its own in its state folder. The operator key
(./nowmesh-operator-key.json, made beside it) stays on the laptop: each node
gets only its own admin key derived from it (mesh/admin.py), which `nowmesh
reboot/config-set --node` signs against. A key file is JSON {field: hex,
"note": ...}, mode 0600, written atomically; keys are never printed and error
messages name the file, not its contents.
"""
import binascii
import functools
import json
import os
import secrets

from nowmesh.errors import InputError

KEY_FILE = "nowmesh-key.json"
KEY_BYTES = 16
OPERATOR_KEY_FILE = "nowmesh-operator-key.json"
OPERATOR_KEY_BYTES = 32


class Kind:
    """One kind of key file: its JSON field, size, accepted hex lengths and note."""

    def __init__(self, field, nbytes, lengths, note):
        self.field, self.nbytes, self.lengths, self.note = field, nbytes, lengths, note


NETWORK = Kind("key", KEY_BYTES, (32, 64), "nowmesh network key: keep it secret; every node deployed "
                                           "from this project uses it")
EMULATION = Kind("key", KEY_BYTES, (32, 64), "the network key of the emulated mesh in this folder")
OPERATOR = Kind("operator_key", OPERATOR_KEY_BYTES, (64,),
                "nowmesh operator key: keep it secret and on this computer; it authorises reboot "
                "and config-set on every node deployed from this project (nodes hold only keys "
                "derived from it)")


def write_key_file(path, key, kind=NETWORK, replace=True):
    """Write a key file (0600, atomically). replace=False never overwrites:
    FileExistsError if another process made it first."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({kind.field: key, "note": kind.note}, out)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_or_create_key(path):
    """-> the network key as hex. Creates the file (0600, atomically) if missing."""
    return _load_or_create(path, NETWORK)


def load_or_create_operator_key(path):
    """-> the operator's master key as hex. Creates the file (0600) if missing."""
    return _load_or_create(path, OPERATOR)


def load_operator_key(path):
    """-> the operator's master key as hex; InputError if there is none yet."""
    if not os.path.exists(path):
        raise InputError(path, None, "no operator key file: `nowmesh deploy` makes it and installs "
                                     "each node's admin key (give another with --operator-key)")
    return _load_or_create(path, OPERATOR)


def mac_admin_id(mac_hex):
    """A deployed node's admin id: its MAC as aa:bb:cc:dd:ee:ff (any hex form in)."""
    digits = mac_hex.replace(":", "").lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def admin_fields(operator_key, admin_id):
    """The node form of the operator key for the node labelled admin_id (its
    MAC, or image:<name>): the settings a deploy, an image or the emulator
    writes into its nowmesh.json."""
    from nowmesh.bundle import core
    core.load()
    from mesh.admin import node_admin_key
    return {"admin_key": node_admin_key(bytes.fromhex(operator_key), admin_id).hex(),
            "admin_id": admin_id, "ota_key": ota_public_key(operator_key)}


@functools.lru_cache(maxsize=4)
def ota_public_key(operator_key):
    """The operator's LMS public key as hex (docs/ota.md): what a board
    verifies OTA manifests with. Building it takes ~2.5 s (a tree of 1024
    one-time keys), so it is made once per operator key and process."""
    from nowmesh.ota.signer import LmsKey
    return LmsKey.from_operator_key(operator_key).public_key().hex()


def _load_or_create(path, kind):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return _create(path, kind)
    except OSError as exc:
        raise InputError(path, None, "cannot read the key file: %s" % exc.strerror) from None
    lengths = " or ".join(map(str, kind.lengths))
    try:
        key = json.loads(text)[kind.field]
        binascii.unhexlify(key)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InputError(path, kind.field, "not a nowmesh key file (expected {\"%s\": \"<%s hex "
                                           "digits>\"}); restore it from a backup or move it away to "
                                           "make a new key (nodes deployed with the old key will "
                                           "not accept it)" % (kind.field, lengths)) from None
    if len(key) not in kind.lengths:
        raise InputError(path, kind.field, "must be %s hex digits" % lengths)
    return key.lower()


def _create(path, kind):
    key = secrets.token_bytes(kind.nbytes).hex()
    try:
        write_key_file(path, key, kind, replace=False)
    except FileExistsError:             # another deploy created it meanwhile: use theirs
        return _load_or_create(path, kind)
    except OSError as exc:
        raise InputError(path, None, "cannot create the key file: %s" % exc.strerror) from None
    return key
