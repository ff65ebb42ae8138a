"""What runs on the board during a deploy: small MicroPython programs sent
through the raw REPL, and the host functions that send them and parse the
answers. Paths on the board are relative to its filesystem root ("/").

One session on the board:
  1. probe    helpers defined once (they stay in the raw REPL's globals); one
              JSON line back: mpy version, deflate, every file of ours with its
              sha256 (computed on the board, in 512-byte chunks), the config
  2. stage    each file to send is written to "<path>.nmnew" from base64
              (deflate-compressed if the board has `deflate`) and its sha256
              checked on the board; the running firmware is not touched
  3. commit   one program: rename every staged file over its target (packages
              first, main.py last), remove stale files of ours
"""
import base64
import json
import zlib

from nowmesh.console.schema import INT, OPT_STR, Fields, check_tree
from nowmesh.deploy.rawrepl import DeviceError

STAGED = ".nmnew"              # suffix of a staged (written, not yet committed) file
ZLIB_WBITS = 10                # 1 KB decompression window: cheap on a 110 KB heap
COMPRESS_MAX = 16 * 1024       # larger compressed files go uncompressed (RAM on the board)
EXEC_BUDGET = 8 * 1024         # base64 characters per raw-paste program

# Defined once per session; short names keep every later program small.
HELPERS = r"""
import os, sys, binascii, hashlib, json
try:
    import deflate, io
    _nz = 1
except ImportError:
    _nz = 0
_nb = None
_nf = None
def _nh(p):
    h = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    with open(p, 'rb') as f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(m[:n])
    return binascii.hexlify(h.digest()).decode()
def _nw(d, out, dirs):
    try:
        es = list(os.ilistdir(d))
    except OSError:
        return
    dirs.append(d)
    for e in es:
        p = d + '/' + e[0]
        if e[1] & 0x4000:
            _nw(p, out, dirs)
        else:
            out[p] = _nh(p)
def _nfile(p, out):
    for q in (p, p + '.nmnew'):
        try:
            os.stat(q)
            out[q] = _nh(q)
        except OSError:
            pass
def S(p, z):
    global _nb, _nf
    if z:
        _nb = []
    else:
        _nf = open(p + '.nmnew', 'wb')
def A(d):
    d = binascii.a2b_base64(d)
    if _nf:
        _nf.write(d)
    else:
        _nb.append(d)
def F(p, h):
    global _nb, _nf
    t = p + '.nmnew'
    if _nf:
        _nf.close()
        _nf = None
    else:
        s = deflate.DeflateIO(io.BytesIO(b''.join(_nb)), deflate.ZLIB)
        _nb = None
        b = bytearray(512)
        with open(t, 'wb') as f:
            while True:
                n = s.readinto(b)
                if not n:
                    break
                f.write(b if n == 512 else b[:n])
    if _nh(t) != h:
        os.remove(t)
        raise ValueError('sha256 mismatch after writing ' + p)
def M(d):
    try:
        os.mkdir(d)
    except OSError:
        pass
def R(p):
    t = p + '.nmnew'
    try:
        os.rename(t, p)
    except OSError:
        try:
            os.remove(p)
        except OSError:
            pass
        os.rename(t, p)
def X(p):
    try:
        os.remove(p)
    except OSError:
        try:
            os.rmdir(p)
        except OSError:
            pass
"""

PROBE = r"""
_nr = {'mpy': getattr(sys.implementation, '_mpy', 0), 'z': _nz, 'files': {}, 'dirs': [],
       'version': list(sys.implementation.version[:3]), 'config': None}
for _p in %(files)r:
    _nfile(_p, _nr['files'])
for _d in %(dirs)r:
    _nw(_d, _nr['files'], _nr['dirs'])
try:
    with open('nowmesh.json') as _f:
        _nr['config'] = _f.read()
except OSError:
    pass
print(json.dumps(_nr))
"""

MAC = r"""
import network
print(binascii.hexlify(network.WLAN(network.STA_IF).config('mac')).decode())
"""


class Probe:
    """What the board told us: bytecode version, deflate, files of ours."""

    def __init__(self, answer):
        self.mpy = answer["mpy"]
        self.deflate = bool(answer["z"])
        self.files = answer["files"]             # path -> sha256 hex (staged ".nmnew" too)
        self.dirs = answer["dirs"]               # our directories that exist
        self.version = tuple(answer["version"])
        self.config_text = answer["config"]

    @property
    def mpy_version(self):
        return self.mpy & 0xFF

    @property
    def mpy_sub_version(self):
        return (self.mpy >> 8) & 3

    @property
    def arch_index(self):
        return self.mpy >> 10


# The probe's answer, checked before use: the board's last output line could
# be anything (a boot.py that prints, another firmware's noise).
_TEXTS = ("a list of strings", lambda v: type(v) is list and all(type(x) is str for x in v))
PROBE_ANSWER = Fields(("mpy", "z", "files", "dirs", "version", "config"), mpy=INT, z=INT, dirs=_TEXTS,
                      files=("an object of sha256 strings", lambda v: type(v) is dict and
                             all(type(x) is str for x in v.values())),
                      version=("a list of integers", lambda v: type(v) is list and all(INT[1](x) for x in v)),
                      config=OPT_STR)


def probe(repl, top_files, top_dirs):
    repl.exec(HELPERS)
    out = repl.exec(PROBE % {"files": list(top_files), "dirs": list(top_dirs)})
    lines = out.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError, RecursionError):
        answer = None
    problem = "not JSON" if answer is None else check_tree(answer) or PROBE_ANSWER.problem(answer, "the answer")
    if problem:
        raise DeviceError("%s: the board's answer to the deploy probe was not understood (%s): %r"
                          % (repl.url, problem, (lines or [""])[-1][:80]))
    return Probe(answer)


def board_mac(repl):
    return repl.exec(MAC).decode().strip()


def encode_file(data, allow_deflate):
    """-> (compressed?, payload bytes to send base64-encoded)."""
    if allow_deflate:
        packer = zlib.compressobj(9, zlib.DEFLATED, ZLIB_WBITS)
        packed = packer.compress(data) + packer.flush()
        if len(packed) < len(data) * 0.9 and len(packed) <= COMPRESS_MAX:
            return True, packed
    return False, data


def stage_programs(files, allow_deflate):
    """files: [(path, data, sha256 hex)] -> raw-paste programs (str) that
    stage them, each about EXEC_BUDGET characters of data, in order."""
    programs, current, size = [], [], 0
    for path, data, digest in files:
        packed, payload = encode_file(data, allow_deflate)
        current.append("S(%r,%d)" % (path, packed))
        text = base64.b64encode(payload).decode()
        for i in range(0, max(len(text), 1), EXEC_BUDGET):
            piece = text[i:i + EXEC_BUDGET]
            if piece:
                current.append("A(%r)" % piece)
                size += len(piece)
            if size >= EXEC_BUDGET:
                programs.append(";".join(current))
                current, size = [], 0
        current.append("F(%r,%r)" % (path, digest))
    if current:
        programs.append(";".join(current))
    return programs


def mkdir_program(dirs):
    return ";".join("M(%r)" % d for d in dirs)


def commit_program(renames, removals):
    """Rename staged files into place, then remove stale files and dirs."""
    return ";".join(["R(%r)" % p for p in renames] + ["X(%r)" % p for p in removals]) or "pass"
