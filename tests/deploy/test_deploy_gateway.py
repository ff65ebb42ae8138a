"""`nowmesh deploy PORT --wifi SSID --wifi-password PW --mqtt URL`: the gateway's
settings go through the one config writer, are never printed, and bad ones
change nothing."""
import json
import os

import pytest

from nowmesh.cli import main
from nowmesh.console.client import ConsoleClient


@pytest.fixture(scope="module")
def node(make_emulated_mesh_module):
    return make_emulated_mesh_module("line", nodes=1).node("n1")


def _board_config(node):
    with open(os.path.join(node.fs_dir, "nowmesh.json")) as f:
        return json.load(f)


def test_wifi_and_mqtt_are_written_kept_and_never_shown(node, tmp_path, capsys):
    key = str(tmp_path / "nowmesh-key.json")
    assert main(["deploy", node.port, "--key-file", key, "--wifi", "home", "--wifi-password",
                 "s3cretpw", "--mqtt", "mqtt://user:brokerpw@127.0.0.1:1884"]) == 0
    out = capsys.readouterr()
    assert "s3cretpw" not in out.out + out.err and "brokerpw" not in out.out + out.err
    config = _board_config(node)
    assert config["wifi"] == {"ssid": "home", "password": "s3cretpw"}
    assert config["mqtt"] == "mqtt://user:brokerpw@127.0.0.1:1884"
    assert config["mqtt_commands"] is False          # MQTT commands only with --allow-commands
    with ConsoleClient(node.port) as client:
        shown = client.command("config_get", timeout=10)
    assert shown["wifi"] == "(set)" and shown["mqtt"] == "(set)"
    # a later plain deploy keeps the node a gateway
    assert main(["deploy", node.port, "--key-file", key]) == 0
    assert _board_config(node)["wifi"]["ssid"] == "home"


@pytest.mark.parametrize("args, field", [
    (["--wifi", "home", "--wifi-password", "x"], "--mqtt"),
    (["--mqtt", "mqtt://127.0.0.1"], "--wifi"),
    (["--wifi-password", "x"], "--wifi-password"),
    (["--wifi", "home", "--mqtt", "http://127.0.0.1"], "--mqtt"),
    (["--wifi", "h" * 33, "--mqtt", "mqtt://127.0.0.1"], "wifi"),
    (["--allow-commands"], "--allow-commands"),
])
def test_bad_gateway_settings_are_one_error_and_change_nothing(node, tmp_path, capsys, args, field):
    before = _board_config(node)
    assert main(["deploy", node.port, "--key-file", str(tmp_path / "k.json")] + args) == 2
    assert field in capsys.readouterr().err
    assert _board_config(node) == before


def test_allow_commands_is_written_and_a_deploy_without_it_turns_it_off(node, tmp_path):
    key = str(tmp_path / "nowmesh-key.json")
    gateway = ["--wifi", "home", "--mqtt", "mqtt://127.0.0.1:1884"]
    assert main(["deploy", node.port, "--key-file", key] + gateway + ["--allow-commands"]) == 0
    assert _board_config(node)["mqtt_commands"] is True
    assert main(["deploy", node.port, "--key-file", key] + gateway) == 0
    assert _board_config(node)["mqtt_commands"] is False
