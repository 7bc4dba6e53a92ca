"""Who approves a pipeline: its tags over the SSM mapping over the stack's parameters, checked, or a clear error.

Tags: `codereflex:approvers` (addresses separated by spaces: AWS tag values allow letters, digits,
spaces and `_ . : / = + - @`, so no commas, and `+` belongs to addresses), `codereflex:quorum`
(a number) and `codereflex:separate-duties` (`true` or `false`). The SSM mapping:
`{"<pipeline>": {"approvers": ["a@x", ...], "quorum": 2, "separateDuties": true}}`. Each setting is
taken from the first source that has it, so a tag can change only the quorum.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from codereflex.config import split_list
from codereflex.errors import ConfigurationError

TAG_APPROVERS = "codereflex:approvers"
TAG_QUORUM = "codereflex:quorum"
TAG_SEPARATE_DUTIES = "codereflex:separate-duties"
_MAPPING_KEYS = frozenset({"approvers", "quorum", "separateDuties"})
# An address as SNS email subscriptions and filter policies take it: one @, a dotted domain, printable
# ASCII without spaces, quotes, angle brackets or commas, at most 254 characters.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MAX_ADDRESS = 254


class ApproverPolicy(NamedTuple):
    """The approvers of one pipeline, how many must approve, and whether a revision's author may."""

    approvers: tuple[str, ...]
    quorum: int = 1
    separate_duties: bool = False


class PolicySource(NamedTuple):
    """What one source says (None: nothing, so the next source decides); checked only when used."""

    name: str  # says where a bad value came from
    approvers: tuple[str, ...] | None = None
    quorum: object = None
    separate_duties: object = None
    labels: Mapping[str, str] = MappingProxyType({})  # a setting's own place (a tag), if it has one

    def where(self, setting: str) -> str:
        return self.labels.get(setting, self.name)


def default_source(approvers: str | Sequence[str], quorum: str | int) -> PolicySource:
    """The stack's parameters: addresses (comma-separated text or a list; may be empty) and a quorum."""
    listed = split_list(approvers) if isinstance(approvers, str) else tuple(approvers)
    return PolicySource("the stack's parameters", listed or None, quorum or None, None)


def tag_source(tags: Mapping[str, str]) -> PolicySource:
    approvers = tags.get(TAG_APPROVERS)
    return PolicySource(
        "the pipeline's tags",
        tuple(approvers.split()) if approvers is not None else None,
        tags.get(TAG_QUORUM),
        tags.get(TAG_SEPARATE_DUTIES),
        MappingProxyType(
            {
                "approvers": f"the pipeline's tag {TAG_APPROVERS}",
                "quorum": f"the pipeline's tag {TAG_QUORUM}",
                "separate_duties": f"the pipeline's tag {TAG_SEPARATE_DUTIES}",
            }
        ),
    )


def mapping_source(mapping: Mapping[str, Mapping[str, Any]], pipeline: str, parameter: str) -> PolicySource:
    entry = mapping.get(pipeline)
    name = f"the SSM parameter {parameter}"
    if entry is None:
        return PolicySource(name)
    unknown = sorted(set(entry) - _MAPPING_KEYS)
    if unknown:  # a misspelt setting would otherwise be ignored without a word
        raise ConfigurationError(f"pipeline {pipeline}: {name} has unknown settings {', '.join(unknown)}")
    approvers = entry.get("approvers")
    if approvers is not None and not (isinstance(approvers, list) and all(isinstance(a, str) for a in approvers)):
        raise ConfigurationError(f"pipeline {pipeline}: approvers in {name} must be a list of addresses")
    return PolicySource(
        name, tuple(approvers) if approvers is not None else None, entry.get("quorum"), entry.get("separateDuties")
    )


class ConfiguredApprovers:
    """`policy(pipeline)` from the pipeline's tags, the SSM mapping (if a parameter is named) and the defaults.

    Given an SSM client and a parameter name, it reads the mapping through `codereflex.aws.ssm`'s
    cached parameter (imported only then: this module stays free of AWS for everything else).
    """

    def __init__(
        self,
        *,
        defaults: str | Sequence[str],
        quorum: str | int,
        tags: Callable[[str], Mapping[str, str]],
        ssm: Any = None,
        parameter: str | None = None,
        mapping: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        self._defaults = default_source(defaults, quorum)
        self._tags = tags
        self._parameter = parameter
        self._mapping = mapping
        if mapping is None and ssm is not None and parameter:
            from codereflex.aws.ssm import ApproverMapping  # noqa: PLC0415 (see the docstring)

            self._mapping = ApproverMapping(ssm, parameter).mapping

    def policy(self, pipeline: str) -> ApproverPolicy:
        sources = [tag_source(self._tags(pipeline))]
        if self._mapping is not None:
            sources.append(mapping_source(self._mapping(), pipeline, self._parameter or "the approvers mapping"))
        return resolve(pipeline, *sources, self._defaults)


def resolve(pipeline: str, *sources: PolicySource) -> ApproverPolicy:
    """The pipeline's policy from `sources`, first one first; a ConfigurationError naming the pipeline
    when no source names an approver, an address is not one, or the quorum cannot be reached."""
    approvers_from = next((s for s in sources if s.approvers is not None), None)
    if approvers_from is None or not approvers_from.approvers:
        where = approvers_from.where("approvers") if approvers_from else "its tags, the SSM mapping or the parameters"
        raise ConfigurationError(f"pipeline {pipeline} has no approvers (set them in {where})")
    approvers = _addresses(pipeline, approvers_from)
    quorum_from = next((s for s in sources if s.quorum is not None), None)
    quorum = _quorum(pipeline, quorum_from) if quorum_from else 1
    if quorum > len(approvers):
        raise ConfigurationError(
            f"pipeline {pipeline}: a quorum of {quorum} needs at least {quorum} approvers, it has {len(approvers)}"
        )
    duties_from = next((s for s in sources if s.separate_duties is not None), None)
    separate = _flag(pipeline, duties_from) if duties_from else False
    return ApproverPolicy(approvers, quorum, separate)


def parse_approver_mapping(value: str, name: str) -> dict[str, Mapping[str, Any]]:
    """The SSM mapping as pipeline → settings; each pipeline's settings are checked when it is used, so a
    mistake for one pipeline stops only that one."""
    try:
        raw = json.loads(value or "{}")
    except ValueError as error:
        raise ConfigurationError(f"the approvers mapping {name} is not JSON") from error
    if not isinstance(raw, dict) or not all(isinstance(entry, dict) for entry in raw.values()):
        raise ConfigurationError(f"the approvers mapping {name} must be a JSON object of pipeline → settings")
    return {str(pipeline): entry for pipeline, entry in raw.items()}


def checked_address(address: str) -> str | None:
    """The address lowercased, or None when it is not one an approval email can go to."""
    address = address.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        return None
    return address.lower()


def _addresses(pipeline: str, source: PolicySource) -> tuple[str, ...]:
    checked: list[str] = []
    for raw in source.approvers or ():
        address = checked_address(raw)
        if address is None:
            # Printable and short: a bad value is named so it can be found, never more than that.
            shown = "".join(ch if " " <= ch <= "~" else "?" for ch in raw)[:80]
            raise ConfigurationError(
                f"pipeline {pipeline}: {shown!r} in {source.where('approvers')} is not an email address"
            )
        if address not in checked:
            checked.append(address)
    return tuple(checked)


def _quorum(pipeline: str, source: PolicySource) -> int:
    value = source.quorum
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if type(value) is not int or value < 1:
        raise ConfigurationError(
            f"pipeline {pipeline}: the quorum in {source.where('quorum')} must be a whole number from 1"
        )
    return value


def _flag(pipeline: str, source: PolicySource) -> bool:
    value = source.separate_duties
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    if isinstance(value, bool):
        return value
    raise ConfigurationError(
        f"pipeline {pipeline}: separate duties in {source.where('separate_duties')} must be true or false"
    )
