"""Settings of the repository backup function, read from its environment on every invocation.

They live in the shared layer because the CodeBuild hand-off run (`codereflex backup run`) reads
the same variables: one parser, so the function and the build cannot disagree.
"""

from __future__ import annotations

from codereflex.backup.settings import Settings

__all__ = ["Settings"]
