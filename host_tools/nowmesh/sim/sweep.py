"""`nowmesh sweep`: a grid of simulations, resumable, on local cores or a Dask cluster.

A spec (YAML or JSON) names axes and fixed settings; every key is a keyword
of `runner.simulate()` (protocol, topology, nodes, seed, scenario, loss,
reading_interval_s, duration_s, protocol_options, ...)::

    axes:                      # the grid: every combination is one run
      protocol: [nowmesh, flood]
      nodes: [25, 50]
      seed: [1, 2, 3]
    fixed:                     # the same for every run
      duration_s: 60
    x: nodes                   # the swept variable the plot uses (optional)

Each finished run is one JSON line ``{"run", "params", "result"}`` appended to
the output at once; `run` is a digest of the parameters, so a sweep started
again skips the runs its output already holds. Runs are deterministic and
independent: the same parameters give the same line on any core or worker
(wall time is left out of the line for that reason), and a run whose worker
died is simply run again.
"""
import hashlib
import inspect
import itertools
import json
import os

from nowmesh.errors import InputError
from nowmesh.sim.engine import SimParams
from nowmesh.sim.runner import simulate

# Keywords a spec may set: simulate()'s own and SimParams' (minus what cannot
# be written in a spec file).
_NOT_IN_SPECS = {"self", "params", "progress", "key"}
KEYWORDS = frozenset(
    name for fn in (simulate, SimParams.__init__)
    for name in inspect.signature(fn).parameters if name not in _NOT_IN_SPECS)
# What a run uses for a keyword its spec leaves out.
DEFAULTS = {name: p.default for fn in (simulate, SimParams.__init__)
            for name, p in inspect.signature(fn).parameters.items()
            if name in KEYWORDS and p.default is not inspect.Parameter.empty}


class Spec:
    def __init__(self, axes, fixed, x=None, source="spec"):
        self.axes = axes
        self.fixed = fixed
        self.x = x
        self.source = source

    def runs(self):
        """Every combination of the axes, in the spec's order, as parameter dicts."""
        names = list(self.axes)
        out = []
        for values in itertools.product(*(self.axes[n] for n in names)):
            params = dict(self.fixed)
            params.update(zip(names, values))
            out.append(params)
        return out

    def plot_axis(self):
        """The swept variable: `x`, else the first axis with several values
        that is neither protocol nor seed."""
        if self.x:
            return self.x
        for name, values in self.axes.items():
            if name not in ("protocol", "seed") and len(values) > 1:
                return name
        return None


def load_spec(path):
    """Read and check a YAML or JSON spec; InputError names the field at fault."""
    import yaml
    try:
        with open(path) as f:
            data = yaml.safe_load(f)          # JSON is YAML too
    except FileNotFoundError:
        raise InputError(path, None, "no such spec file")
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(path, None, "not YAML or JSON: %s" % str(exc).splitlines()[0])
    return parse_spec(data, path)


def parse_spec(data, source="spec"):
    if not isinstance(data, dict):
        raise InputError(source, None, "a spec is a mapping with 'axes' (and 'fixed', 'x')")
    unknown = sorted(set(data) - {"axes", "fixed", "x"})
    if unknown:
        raise InputError(source, unknown[0], "unknown key; a spec has axes, fixed and x")
    axes, fixed = data.get("axes") or {}, data.get("fixed") or {}
    for section, table in (("axes", axes), ("fixed", fixed)):
        if not isinstance(table, dict):
            raise InputError(source, section, "must be a mapping of simulate() keywords")
        for name, value in table.items():
            _check_keyword(source, "%s.%s" % (section, name), name, value)
            if section == "axes" and (not isinstance(value, list) or not value):
                raise InputError(source, "axes.%s" % name, "an axis is a non-empty list of values")
    both = sorted(set(axes) & set(fixed))
    if both:
        raise InputError(source, "fixed.%s" % both[0], "is also an axis")
    x = data.get("x")
    if x is not None and x not in axes:
        raise InputError(source, "x", "%r is not one of the axes (%s)" % (x, ", ".join(axes)))
    return Spec(axes, fixed, x, source)


def _check_keyword(source, field, name, value):
    if name not in KEYWORDS:
        raise InputError(source, field, "not a simulate() keyword (known: %s)" % ", ".join(sorted(KEYWORDS)))
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise InputError(source, field, "values must be plain JSON (numbers, strings, lists, maps)")


def run_id(params):
    """A short stable digest of a run's parameters: its identity in the output."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def run_one(params):
    """Run one simulation -> its JSON line (a str, no newline). Deterministic."""
    result = simulate(**params)
    wall_s = result.pop("wall_s", None)
    line = json.dumps({"run": run_id(params), "params": params, "result": result}, sort_keys=True)
    return line, wall_s


def read_lines(path):
    """The valid run lines already in `path` (a missing file holds none).

    A line cut short by an interrupted sweep is not a run: it is skipped (and
    counted), and the next line written starts on a fresh line.
    """
    records, bad = [], 0
    if not os.path.exists(path):
        return records, bad
    with open(path) as f:
        for text in f:
            try:
                record = json.loads(text)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, dict) and "run" in record and "result" in record:
                records.append(record)
            else:
                bad += 1
    return records, bad


def pending_runs(spec, out_path):
    """(runs still to do, records already done) for a spec and an output file."""
    records, _bad = read_lines(out_path)
    done = {r["run"] for r in records}
    todo = [p for p in spec.runs() if run_id(p) not in done]
    return todo, records


class LineWriter:
    """Appends run lines to the output as they finish (flushed: a kill loses
    at most the run in progress)."""

    def __init__(self, path):
        self.path = path
        needs_newline = os.path.exists(path) and os.path.getsize(path) > 0 and not _ends_with_newline(path)
        self._f = open(path, "a")
        if needs_newline:
            self._f.write("\n")

    def write(self, line):
        self._f.write(line + "\n")
        self._f.flush()

    def close(self):
        self._f.close()


def _ends_with_newline(path):
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
