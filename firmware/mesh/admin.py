# Operator authorisation of the requests that change a node (reboot,
# config_set, ...): docs/protocol.md, "Operator key".
#
# The operator keeps a master key on the laptop. Each node holds only its own
# admin key, HMAC-SHA256(master, "nowmesh/admin/" + admin id), where the admin
# id is a label installed with it (the node's MAC for deploy and the
# emulator, "image:<name>" for images, whose MAC is unknown at build time).
# A captured node gives away its own key, not the master and no other node's.
#
# An authorised command is a token:
#   target id (6) | target boot (u32) | seq (u32) | command (JSON bytes) | tag (16)
#   tag = HMAC-SHA256(admin key, "nowmesh/admin-cmd" | everything before)[:16]
# The target accepts it only if the tag is right, the id is its own, the boot
# is its current boot and seq is above the last seq it accepted this boot, so
# a recorded token is dead once used and after any reboot.
import struct

from .crypto import _tags_equal, hmac_sha256

ADMIN_TAG_LEN = 16
_HEAD = 14                          # id(6) + boot(4) + seq(4)
_KEY_LABEL = b"nowmesh/admin/"
_CMD_LABEL = b"nowmesh/admin-cmd"


class AdminError(Exception):
    """An authorisation refused; .reason is one word (docs/protocol.md)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def node_admin_key(master, admin_id):
    """The admin key of the node labelled admin_id (str): what it holds."""
    return hmac_sha256(master, _KEY_LABEL + admin_id.encode())


def sign(admin_key, target_id, boot, seq, command):
    """A token authorising command (bytes) on target_id during its boot `boot`."""
    body = bytes(target_id) + struct.pack("<II", boot & 0xFFFFFFFF, seq & 0xFFFFFFFF) + bytes(command)
    return body + hmac_sha256(admin_key, _CMD_LABEL + body)[:ADMIN_TAG_LEN]


def verify(admin_key, own_id, boot, last_seq, token):
    """-> (seq, command bytes) of a token for us, now; AdminError otherwise.
    Changes nothing: the caller stores seq as its new last_seq once it runs."""
    if not admin_key:
        raise AdminError("no_key")
    if len(token) < _HEAD + ADMIN_TAG_LEN:
        raise AdminError("malformed")
    body = bytes(token[:-ADMIN_TAG_LEN])
    want = hmac_sha256(admin_key, _CMD_LABEL + body)[:ADMIN_TAG_LEN]
    if not _tags_equal(want, bytes(token[-ADMIN_TAG_LEN:])):
        raise AdminError("tag")
    t_boot, seq = struct.unpack_from("<II", body, 6)
    if body[:6] != own_id:
        raise AdminError("node")
    if t_boot != boot & 0xFFFFFFFF:
        raise AdminError("boot")
    if seq <= last_seq:
        raise AdminError("seq")
    return seq, body[_HEAD:]
