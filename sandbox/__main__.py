"""`python -m sandbox up | invoke | demo`: the local AWS stand-in from the command line."""

from sandbox.cli import main

raise SystemExit(main())
