"""Blank out secret-looking strings (keys, tokens, passwords, credentials in URLs) before text leaves a log."""

from __future__ import annotations

import re

MASK = "[REDACTED]"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block (or from the header to the end of what we have).
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL),
        MASK,
    ),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), MASK),
    # Credentials embedded in URLs: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
    # Authorization headers and bearer tokens.
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*)(?:bearer|basic|token)?\s*\S+"), r"\1" + MASK),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1" + MASK),
    # key=value / key: value / "key": "value" where the key names a secret.
    (
        re.compile(
            r"""(?ix)
            ( ["']? [\w.-]{0,40}? (?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key
              |credential|session[_-]?key|client[_-]?secret|signature) [\w.-]{0,40}? ["']? \s{0,5} [:=] \s{0,5} )
            ( "[^"]*" | '[^']*' | [^\s,;&]+ )
            """
        ),
        r"\1" + MASK,
    ),
    # Well-known token shapes: GitHub, Slack, npm, JWTs.
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|npm_[A-Za-z0-9]{30,})\b"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
    # 40-character base64 strings: the shape of an AWS secret access key (git commit ids excepted).
    (re.compile(r"(?<![A-Za-z0-9/+=])(?![0-9a-f]{40}(?![A-Za-z0-9/+=]))[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), MASK),
)


def redact(text: str) -> str:
    """`text` with every secret-looking substring replaced by [REDACTED]; the rest left as it was.

    Deliberately eager: a masked harmless hash costs a reader little, a leaked key costs a rotation.
    """
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
