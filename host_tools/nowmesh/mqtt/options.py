"""What the bridge is told: the broker URL and config values for `set`."""
from urllib.parse import unquote, urlsplit

from nowmesh.errors import InputError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerAddress:
    """mqtt://[user:pass@]host[:port] or mqtts://... (TLS, system CAs)."""

    def __init__(self, host, port, tls, username=None, password=None):
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password = username, password

    def __str__(self):
        # Never the password: this goes into logs.
        user = "%s@" % self.username if self.username else ""
        return "%s://%s%s:%d" % ("mqtts" if self.tls else "mqtt", user, self.host, self.port)


def parse_broker_url(text):
    def bad(why):
        return InputError("command line", "--mqtt", "%s (expected mqtt://[user:pass@]host[:port] "
                          "or mqtts://...)" % why)
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as exc:
        raise bad("%r: %s" % (_hide_password(text), exc)) from None
    if url.scheme not in DEFAULT_PORTS:
        raise bad("%r: the scheme must be mqtt or mqtts" % _hide_password(text))
    if not url.hostname:
        raise bad("%r: no host" % _hide_password(text))
    if url.path not in ("", "/") or url.query or url.fragment:
        raise bad("%r: a broker URL has no path or query" % _hide_password(text))
    if port == 0:
        raise bad("%r: port 0" % _hide_password(text))
    return BrokerAddress(url.hostname, port or DEFAULT_PORTS[url.scheme], url.scheme == "mqtts",
                         unquote(url.username) if url.username else None,
                         unquote(url.password) if url.password is not None else None)


def _hide_password(text):
    head, sep, tail = text.partition("@")
    if not sep or "://" not in head:
        return text
    scheme, _, userinfo = head.partition("://")
    return "%s://%s@%s" % (scheme, userinfo.split(":", 1)[0] + (":***" if ":" in userinfo else ""), tail)


def check_setting(field, value):
    """Validate one config value with the firmware's own rules (meshport.settings
    and the core's NodeConfig), as the node will; ValueError says why."""
    from nowmesh.bundle import core
    core.load()         # the firmware's modules, explicitly
    from meshport import settings
    settings.check_field(field, value)
