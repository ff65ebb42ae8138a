"""`nowmesh deploy` as a library: the firmware tree and node config onto a
board over its raw REPL, sending only what changed (docs/deploy.md)."""
from nowmesh.deploy.session import DeployOptions, NodeDidNotStart, deploy_board  # noqa: F401
