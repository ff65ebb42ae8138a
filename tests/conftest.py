import nowmesh.corepath  # noqa: F401  (puts firmware/ and the host shims on sys.path)
