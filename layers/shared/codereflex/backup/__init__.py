"""Repository backup: git bundles in an object store, manifests, a catalog, point-in-time restore."""
