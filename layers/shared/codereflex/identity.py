"""Who did something: the principal behind an IAM or STS ARN, so a role's sessions count as the role."""

from __future__ import annotations

from collections.abc import Iterable

ARN_PARTS = 6  # arn:partition:service:region:account:resource


def principal(arn: str | None) -> str | None:
    """`account:kind/name` for a user or role ARN, or an assumed-role session of a role; None for anything else.

    CodeCommit records a comment's author as the caller's ARN: for a Lambda function that is an
    `assumed-role/<role>/<session>` ARN, whose session part is not the identity, the role is.
    """
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) != ARN_PARTS or parts[2] not in ("iam", "sts") or not parts[4]:
        return None
    account, resource = parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    name = rest.split("/", 1)[0] if kind == "assumed-role" else rest.rsplit("/", 1)[-1]
    if not name:
        return None
    if kind in ("assumed-role", "role"):
        return f"{account}:role/{name}"
    if kind == "user":
        return f"{account}:user/{name}"
    return None


def same_principal(first: str | None, second: str | None) -> bool:
    """Whether two ARNs name the same user or role (never true when either is unknown)."""
    one = principal(first)
    return one is not None and one == principal(second)


class Principals:
    """A set of users and roles (codereflex's own, say): `arn in principals` for any of their ARNs or sessions."""

    def __init__(self, arns: Iterable[str | None]) -> None:
        self._principals = frozenset(p for p in map(principal, arns) if p is not None)

    def __contains__(self, arn: object) -> bool:
        return isinstance(arn, str) and principal(arn) in self._principals

    def __bool__(self) -> bool:
        return bool(self._principals)
