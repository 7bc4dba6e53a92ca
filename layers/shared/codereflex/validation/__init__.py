"""Deployment validation: a declarative spec, its checks, fail-closed semantics and the hook's verdict."""
