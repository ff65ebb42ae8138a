# Config validation: every error names its field.
from mesh.config import ConfigError, NodeConfig

GOOD = {"id": "02:00:00:00:00:01", "name": "kitchen", "key": "000102030405060708090a0b0c0d0e0f"}


def _with(**changes):
    d = dict(GOOD)
    for k in changes:
        if changes[k] is None:
            del d[k]
        else:
            d[k] = changes[k]
    return d


def _field_of(d):
    try:
        NodeConfig.from_dict(d)
    except ConfigError as e:
        assert e.field in str(e)
        return e.field
    return None


def test_defaults():
    c = NodeConfig.from_dict(GOOD)
    assert c.id == b"\x02\x00\x00\x00\x00\x01" and c.key == bytes(range(16))
    assert (c.channel, c.encrypt, c.hop_limit) == (1, True, 16)
    assert (c.readings_max, c.neighbours_max, c.beacon_ms) == (128, 32, 60000)
    assert c.neighbour_timeout_ms == 210000          # 3.5 x beacon_ms


def test_bytes_forms_and_keyword_constructor():
    c = NodeConfig(id=b"\x02\x00\x00\x00\x00\x01", name="n", key=bytes(32), channel=14, encrypt=False)
    assert c.channel == 14 and c.encrypt is False and len(c.key) == 32
    assert NodeConfig.from_dict(_with(key="AB" * 32)).key == b"\xab" * 32


def test_round_trip_to_dict():
    c = NodeConfig.from_dict(_with(beacon_ms=2000))
    d = c.to_dict()
    assert d["id"] == GOOD["id"] and d["key"] == GOOD["key"]
    upper = NodeConfig.from_dict(_with(id="0A:BC:00:00:00:01")).to_dict()
    assert upper["id"] == "0a:bc:00:00:00:01"          # one spelling, as format_id writes it
    assert NodeConfig.from_dict(d).to_dict() == d
    assert "0001020304" not in repr(c)  # repr never shows the key ...
    assert repr(c) == "NodeConfig(id=02:00:00:00:00:01, name='kitchen', channel=1)"   # ... but who it is


def test_errors_name_the_field():
    cases = [
        (_with(id=None), "id"),
        (_with(id="02:00:00:00:00"), "id"),
        (_with(id=b"\x01\x02"), "id"),
        (_with(id="ff:ff:ff:ff:ff:ff"), "id"),
        (_with(id=12), "id"),
        (_with(name=""), "name"),
        (_with(name="x" * 17), "name"),
        (_with(name="caf\u00e9"), "name"),
        (_with(name=None), "name"),
        (_with(key="0011"), "key"),
        (_with(key="zz" * 16), "key"),
        (_with(key=bytes(24)), "key"),
        (_with(key=None), "key"),
        (_with(channel=0), "channel"),
        (_with(channel=15), "channel"),
        (_with(channel="1"), "channel"),
        (_with(channel=True), "channel"),
        (_with(encrypt=1), "encrypt"),
        (_with(hop_limit=0), "hop_limit"),
        (_with(readings_max=0), "readings_max"),
        (_with(neighbours_max=-1), "neighbours_max"),
        (_with(beacon_ms=1.5), "beacon_ms"),
        (_with(chanel=3), "chanel"),
    ]
    for d, field in cases:
        assert _field_of(d) == field, (d, field, _field_of(d))


def test_errors_say_what_is_wrong():
    # the message a user sees after the field name
    cases = [
        (_with(key="zz" * 16), "must be hex"),
        (_with(key="0a" * 15 + "0g"), "must be hex"),
        (_with(key="g0" + "0a" * 15), "must be hex"),
        (_with(encrypt=1), "must be true or false"),
        (_with(settle_sync="yes"), "must be true or false"),
        (_with(id="02:00:00:00:00"), "6 ':'-separated"),
        (_with(channel=15), "1..14"),
        (_with(name=""), "1-16 characters"),
    ]
    for d, text in cases:
        try:
            NodeConfig.from_dict(d)
            assert False, d
        except ConfigError as e:
            assert text in e.message and e.message in str(e), (d, str(e))


def test_every_error_reads_field_colon_reason():
    # what a user sees for a bad config file, word for word
    cases = [
        (_with(id=None), "id: is required"),
        (_with(id=b"\x01\x02"), "id: must be 6 bytes or 'aa:bb:cc:dd:ee:ff'"),
        (_with(id="ff:ff:ff:ff:ff:ff"), "id: broadcast address is not a node id"),
        (_with(key="0011"), "key: hex key must be 32 or 64 hex digits"),
        (_with(key=bytes(24)), "key: must be 16 or 32 bytes (or 32/64 hex digits)"),
        (_with(key="zz" * 16), "key: must be hex"),
        (_with(name="x" * 17), "name: must be 1-16 characters"),
        (_with(name="caf\u00e9"), "name: must be printable ascii"),
        (_with(encrypt=1), "encrypt: must be true or false"),
        (_with(channel=15), "channel: must be an integer 1..14"),
        (_with(chanel=3), "chanel: unknown field"),
    ]
    for d, text in cases:
        try:
            NodeConfig.from_dict(d)
            assert False, d
        except ConfigError as e:
            assert str(e) == text, (str(e), text)
    try:
        NodeConfig.from_dict({1: 2})
        assert False
    except ConfigError as e:
        assert str(e) == "1: unknown field" and e.field == "1"


def test_names_at_their_limits():
    for name in ("x" * 16, " ", "~", "a b~"):
        assert NodeConfig.from_dict(_with(name=name)).name == name
    for name in ("\x1f", "\x7f"):
        assert _field_of(_with(name=name)) == "name"


def test_not_a_dict():
    assert _field_of([1, 2]) == "config"
