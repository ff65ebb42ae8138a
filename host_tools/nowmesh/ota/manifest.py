"""A signed OTA manifest from a firmware tree: the one bundle builder
(nowmesh.bundle.build: board_files, ota_bundle) plus the operator's LMS
signature (nowmesh.ota.signer). docs/ota.md."""
import os
import time

from nowmesh.bundle import core
from nowmesh.bundle.build import board_files, ota_bundle
from nowmesh.ota.signer import STATE_FILE, Signer


def state_path(operator_key_path):
    """The leaf counter lives beside the operator key it belongs to."""
    return os.path.join(os.path.dirname(os.path.abspath(operator_key_path)), STATE_FILE)


def build_signed(compiler, operator_key, operator_key_path, root=None, version=None,
                 downgrade=False, signer=None, activate=None, confirm_s=None, files=None):
    """-> (signed manifest bytes, image bytes, bundle id). The version is the
    build time in seconds unless given: later builds are newer, so a replayed
    old bundle is refused by every board that has run a newer one. `files`:
    the board files to send instead of the tree's (tests: a bundle that
    crashes); activate "now" / confirm_s: see mesh/ota_manifest.py."""
    core.load()
    from mesh.ota_manifest import pack, parse_body
    files = files if files is not None else board_files(compiler, root)
    body, image = ota_bundle(files, int(version or time.time()), downgrade=downgrade,
                             activate=activate, confirm_s=confirm_s)
    signer = signer or Signer(operator_key, state_path(operator_key_path))
    signed = pack(body, signer.sign(body))
    return signed, image, parse_body(body).bundle
