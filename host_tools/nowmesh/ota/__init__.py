"""Over-the-mesh updates (docs/ota.md): signing, manifests, the host command."""
