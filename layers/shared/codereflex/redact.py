"""Find secrets (keys, tokens, passwords, credentials) in text and blank them out before the text leaves a log."""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator, Sequence
from functools import cache
from typing import NamedTuple

MASK = "[REDACTED]"


class Finding(NamedTuple):
    """Where a secret is in a text: `text[start:end]`, and which rule saw it."""

    kind: str
    start: int
    end: int


class _Rule(NamedTuple):
    kind: str
    pattern: re.Pattern[str]
    group: int | None = None  # the secret's group; None: see _span


class _Group(NamedTuple):
    gate: re.Pattern[str]  # what any of the rules' matches contains
    rules: tuple[_Rule, ...]


# ANSI escapes (colours, cursor moves, terminal titles) split `NAME=value` and token shapes apart:
# they go before anything is matched.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")

# --- Key blocks: the library recognises a BEGIN line, not where the key ends, so spans are ours. ---
_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"  # RSA, EC, OPENSSH, ENCRYPTED, PGP ... BLOCK, none (PKCS#8)
_END = rf"-{{4,5}} ?END {_LABEL} ?-{{4,5}}"
# From BEGIN to the first END, or to the end of the text (a tail or message cut inside the key).
_BLOCK = re.compile(rf"-{{4,5}} ?BEGIN {_LABEL} ?-{{4,5}}.*?(?:{_END}|\Z)", re.DOTALL)
# PuTTY keys have no BEGIN line: their private part runs from `Private-Lines:` to `Private-MAC:`.
_PUTTY = re.compile(r"Private-Lines: *\d+.*?(?:Private-MAC: *[0-9A-Fa-f]+|\Z)", re.DOTALL)
_LONG = r"[ \t]*[A-Za-z0-9+/]{16,}={0,2}[ \t]*\r?"  # a line of base64 (PEM, OpenSSH, PGP armor)
_SHORT = r"[ \t]*=?[A-Za-z0-9+/]{1,15}={0,2}[ \t]*\r?"  # a body's last line, a PGP `=crc` line
_ARMOR = r"[ \t]*[A-Za-z][A-Za-z-]*: [^\n]*"  # Proc-Type:, DEK-Info:, Comment: (or a blank line)
# A body whose BEGIN line was cut off (the tail began inside the key): the lines up to its END.
_END_LINE = re.compile(rf"(?m)^[ \t]*{_END}")
_BODY_LINE = re.compile(rf"{_LONG}|{_ARMOR}|[ \t]*\r?")
_LAST_BODY_LINE = re.compile(_SHORT)
# The first bytes of private keys' DER (and OpenSSH's magic), base64-encoded: a body is known from
# its first line even without BEGIN or END. Certificates and public keys start otherwise.
_KEY_START = re.compile(
    r"(?<![A-Za-z0-9+/])(?:"
    r"MII[A-Za-z0-9+/]{2}[AQgw]IBAAK"  # RSA (PKCS#1): SEQUENCE, INTEGER 0, INTEGER n
    r"|MII[A-Za-z0-9+/]{2}[AQgw]IBADAN|MIG[A-Za-z0-9+/]AgEAMBMG|MC4CAQAwBQYDK2Vw"  # PKCS#8: RSA, EC, Ed25519
    r"|MHcCAQEE|MIGkAgEBBD|MIHcAgEBBE"  # EC (SEC 1): P-256, P-384, P-521
    r"|b3BlbnNzaC1rZXktdjE"  # "openssh-key-v1"
    rf")[A-Za-z0-9+/=]*(?:\n{_LONG}(?=\n|\Z))*(?:(?:\n{_SHORT}){{0,2}}\n[ \t]*{_END})?"
)

# --- Our own line rules: what detect-secrets 1.5.0 has no rule for (each says why). ---
_KEYWORD_NAMES = (
    # detect-secrets' keyword list lacks tokens, auth, credentials, plain `pass`, access and session keys.
    r"pass(?:wd|word|phrase)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|session[_-]?key"
    r"|credentials?|signature|(?<![a-z])auth"
)
_OWN_RULES: tuple[_Rule, ...] = (
    # `NAME=value`, `"name": "value"`, `name: value`, `?name=value&`, for the names above. The
    # library's keyword rules need their own names and read a value to the end of the line. Not a
    # URL's user name (`://x-access-token:...@`: the URL rule masks just the password) nor a JSON
    # object's name (`"credentials": {`).
    _Rule(
        "keyword",
        re.compile(
            rf"""(?ix)
            (?<![\w.-])(?<!//)["']?[\w.-]{{0,40}}?(?:{_KEYWORD_NAMES})(?![a-z])[\w.-]{{0,40}}?["']?
            \s{{0,5}}(?::=|=>|[:=])\s{{0,5}}
            ("[^"\n]*"|'[^'\n]*'|(?![{{\[(<])[^\s,;&'"]+)
            """
        ),
        1,
    ),
    # `--password X`, `--token X`: command-line flags take their value after a space.
    _Rule(
        "flag",
        re.compile(r"(?i)(?<![\w-])--?(?:password|passwd|pass|passphrase|token|secret|api-key|access-key)[= ]\s*(\S+)"),
        1,
    ),
    # `curl -u user:password`, `--user`, `--proxy-user`.
    _Rule("user-option", re.compile(r"(?<![\w-])(?:-u|-U|--user|--proxy-user)[\s=]*['\"]?[^\s:'\"]*:([^\s'\"]+)"), 1),
    # `mysql -uroot -pSecret`: MySQL's clients take the password glued to `-p`.
    _Rule("mysql-password", re.compile(r"\bmysql(?:dump|admin|sh)?\b.*?\s-p([^\s-]\S*)"), 1),
    # netrc: `machine h login u password p`, or a `password p` line of a multi-line entry.
    _Rule("netrc", re.compile(r"(?im)(?:\blogin\s+\S+\s+|^\s*)password\s+(\S+)"), 1),
    # Credentials in any URL; the library's rule refuses passwords with characters URLs reserve,
    # an `@` among them (up to the last `@` before the host, here).
    _Rule("url-credentials", re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^\s/]+)@"), 1),
    # Authorization headers and bearer tokens (no library rule).
    _Rule("authorization", re.compile(r"(?i)\bauthorization\s*[:=]\s*(?:(?:bearer|basic|token|digest)\s+)?(\S+)"), 1),
    _Rule("bearer", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{8,}=*)"), 1),
    # AWS session tokens (base64 of a protobuf naming the origin or "aws"), printed bare by `aws sts`.
    _Rule(
        "aws-session-token",
        re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{2}o(?:Jb3JpZ2lu|GZXIvYXdz|DYXdz)[A-Za-z0-9+/=]{20,}"),
    ),
    # IAM unique ids besides key ids: no credential, but nobody needs them in a comment either.
    _Rule("aws-id", re.compile(r"\b(?:AGPA|AIDA|AROA|ANPA|ANVA|AIPA|APKA)[A-Z0-9]{16}\b")),
    # A 40-character base64 word: an AWS secret access key's shape, after `NAME=` too (SHA-1s, base64
    # of text and URLs' paths excepted: see _is_false_secret_key).
    _Rule("aws-secret-key", re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")),
    # Token formats the library does not know.
    _Rule("github-fine-grained-token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}")),
    _Rule("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    _Rule("npm-token", re.compile(r"\bnpm_[A-Za-z0-9]{36}")),
    _Rule("stripe-test-key", re.compile(r"\b[rs]k_test_[0-9A-Za-z]{16,}")),
)
# A match that ends inside a longer token (rules of fixed length: 36 characters of a GitHub token,
# 24 of a Stripe key, a JWT's first two parts) is widened to the token's end.
_TOKEN_TAIL = re.compile(r"(?:[A-Za-z0-9_-]|\.(?=[A-Za-z0-9_-]))*={0,2}")
# Quotes and `=`/`:` around a value are kept; a value's own base64 padding is masked with it.
_LEAD_TRIM = " \t\"'`=:"
_END_TRIM = " \t\"'`:"
_HEX = re.compile(r"[0-9a-fA-F]{40}")  # a SHA-1: commit ids, key fingerprints
_LIBRARY_EXCLUDED = frozenset(
    {
        # A public address is no credential, and build logs need them.
        "IPPublicDetector",
    }
)


def find_secrets(text: str) -> list[Finding]:
    """Every secret-looking span of `text` (escape sequences already removed), in order; spans may overlap."""
    if not text:
        return []
    found = _key_blocks(text)
    # A gate that matches nowhere in the whole text (`^` and `$` at every "\n") matches no line of
    # it: most rules are ruled out in one scan instead of one per line.
    groups = [group for group in _line_rules() if group.gate.search(text)]
    offset = 0
    for line_with_end in text.split("\n"):
        # Each rule sees one line: the library's keyword values run to the end of what they see.
        line = line_with_end.removesuffix("\r")
        for group in groups:
            if len(group.rules) > 1 and not group.gate.search(line):
                continue
            for rule in group.rules:
                for match in rule.pattern.finditer(line):
                    span = _span(rule, match, line)
                    if span is not None:
                        found.append(Finding(rule.kind, offset + span[0], offset + span[1]))
        offset += len(line_with_end) + 1
    return sorted(found, key=lambda finding: (finding.start, finding.end))


def redact(text: str) -> str:
    """`text` without escape sequences and with every secret-looking span replaced by [REDACTED].

    Deliberately eager: a masked harmless hash costs a reader little, a leaked key costs a rotation.
    A key block becomes one mask, so the text can have fewer lines than before.
    """
    text = _ANSI.sub("", text)
    if not text:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in _merged(find_secrets(text)):
        pieces += [text[position:start], MASK]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def redact_lines(lines: Sequence[str]) -> list[str]:
    """Lines redacted as the one text they form (a key spans lines), then split again."""
    if not lines:
        return []
    return redact("\n".join(lines)).split("\n")


def _merged(findings: Sequence[Finding]) -> Iterator[tuple[int, int]]:
    start = end = -1
    for finding in findings:
        if finding.start > end:
            if end > start:
                yield start, end
            start = finding.start
        end = max(end, finding.end)
    if end > start:
        yield start, end


def _key_blocks(text: str) -> list[Finding]:
    """Private keys: whole blocks, bodies whose BEGIN was cut off, bodies known by their first bytes."""
    found = [Finding("private-key", m.start(), m.end()) for m in _BLOCK.finditer(text)]
    found += [Finding("private-key", m.start(), m.end()) for m in _PUTTY.finditer(text)]
    if "END" in text:
        found += [Finding("private-key-body", _body_start(text, m.start()), m.end()) for m in _END_LINE.finditer(text)]
    found += [Finding("private-key-body", m.start(), m.end()) for m in _KEY_START.finditer(text)]
    return found


def _body_start(text: str, end_line: int) -> int:
    """Where the key body above an END line begins: walk up its lines (to the text's start, if need be)."""
    start = end_line
    above = 0
    while start > 0:
        previous = text.rfind("\n", 0, start - 1) + 1
        line = text[previous : start - 1]
        # A body's last line and a PGP checksum are short; only the two lines above END may be.
        if not (_BODY_LINE.fullmatch(line) or (above < 2 and _LAST_BODY_LINE.fullmatch(line))):  # noqa: PLR2004
            break
        start = previous
        above += 1
    return start


def _span(rule: _Rule, match: re.Match[str], line: str) -> tuple[int, int] | None:
    group = rule.group
    if group is None:
        # The library's patterns: a first group that does not open the match is the secret after
        # its context (`aws..."(secret)"`, `://user:(password)@`); one that does is a token's prefix.
        group = 1 if match.re.groups and match.start(1) > match.start() else 0
    start, end = match.span(group)
    if start < 0:
        start, end = match.span()
    if rule.kind == "aws-secret-key" and _is_false_secret_key(match.group(), match.start(), line):
        return None
    tail = _TOKEN_TAIL.match(line, end)
    end = tail.end() if tail else end
    while start < end and line[start] in _LEAD_TRIM:
        start += 1
    while end > start and line[end - 1] in _END_TRIM:
        end -= 1
    return (start, end) if end > start else None


def _is_false_secret_key(word: str, start: int, line: str) -> bool:
    """A hash, base64 of text, or a path inside a URL (`s3://bucket/a/b`) has a secret key's length by chance.

    40 random base64 characters decode to 30 bytes all printable with a chance of about 1e-13.
    """
    if _HEX.fullmatch(word):
        return True
    with contextlib.suppress(ValueError):
        if all(32 <= byte < 127 or byte in b"\t\n\r" for byte in base64.b64decode(word, validate=True)):  # noqa: PLR2004
            return True
    before = line[:start]
    word_start = max(before.rfind(" "), before.rfind("\t"), before.rfind('"'), before.rfind("'")) + 1
    return "://" in line[word_start:start] and "/" in word


@cache
def _line_rules() -> tuple[_Group, ...]:
    """detect-secrets' rules (imported on first use: ~0.2 s, and only failure comments need it), then ours."""
    import logging  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    shown = warnings.showwarning
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class  # noqa: PLC0415
    from detect_secrets.plugins import keyword  # noqa: PLC0415
    from detect_secrets.plugins.base import RegexBasedDetector  # noqa: PLC0415

    if warnings.showwarning is not shown:
        # Importing it routes every warning of the process into logging; undo that.
        logging.captureWarnings(False)
    groups: list[_Group] = []
    # Every regex plugin it ships (AWS, GitHub, GitLab, Slack, Stripe, npm, PyPI, Azure, JWT, basic
    # auth, ...). Not its entropy plugins: they look at quoted strings only, and their thresholds
    # mask commit ids, UUIDs and base64 test data, which a failure comment must show.
    plugins: dict[str, type] = get_mapping_from_secret_type_to_class()
    for plugin in plugins.values():
        if issubclass(plugin, RegexBasedDetector) and plugin.__name__ not in _LIBRARY_EXCLUDED:
            denylist: Sequence[re.Pattern[str]] = plugin.denylist  # type: ignore[assignment]  # a class attribute
            groups += [_alone(_Rule(plugin.__name__, pattern)) for pattern in denylist]
    # Its keyword rules (`password = "..."`, `secret: ...`, `db_pass=...`), with the group each keeps
    # the value in, for config files and for quoted assignments in code. They are the slowest rules
    # and every match holds one of its names: one search for the names gates the lot.
    keyword_groups = {
        **keyword.CONFIG_DENYLIST_REGEX_TO_GROUP,
        **keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        **keyword.GOLANG_DENYLIST_REGEX_TO_GROUP,
    }
    names = re.compile(keyword.DENYLIST_REGEX, re.IGNORECASE)
    groups.append(_Group(names, tuple(_Rule("KeywordDetector", p, g) for p, g in keyword_groups.items())))
    return (*groups, *(_alone(rule) for rule in _OWN_RULES))


def _alone(rule: _Rule) -> _Group:
    return _Group(re.compile(rule.pattern.pattern, rule.pattern.flags | re.MULTILINE), (rule,))
