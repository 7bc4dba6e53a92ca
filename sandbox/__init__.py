"""Local stand-in for AWS (moto plus the missing Code* operations, a git server, an event router).

Dev only: never deployed.
"""
