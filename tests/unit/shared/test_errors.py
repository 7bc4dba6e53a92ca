"""ClientError codes become the right project error: invalid input is final, throttling is retried."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ClientError

from codereflex.aws.errors import INVALID_INPUT, UNMODELLED_INVALID_INPUT, translate
from codereflex.errors import AccessDenied, InvalidInput, PermanentError, TargetGone, TransientError

TABLE = sorted({(service, code) for service, codes in INVALID_INPUT.items() for code in codes})
UNMODELLED = sorted({(service, code) for service, codes in UNMODELLED_INVALID_INPUT.items() for code in codes})


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, "Operation")


def _wire_codes(service: str) -> set[str]:
    """Every error code the service's botocore model declares, as the wire carries it."""
    model = botocore.session.get_session().get_service_model(service)
    return {shape.metadata.get("error", {}).get("code", shape.name) for shape in model.error_shapes}


@pytest.mark.parametrize(("service", "code"), TABLE + UNMODELLED)
def test_every_invalid_input_code_is_final(service: str, code: str) -> None:
    translated = translate(_error(code), f"{service} call")
    assert isinstance(translated, InvalidInput)
    assert isinstance(translated, PermanentError)
    assert translated.reason == "invalid-input"
    assert code in str(translated)


@pytest.mark.parametrize("service", sorted(INVALID_INPUT))
def test_the_table_names_only_codes_the_service_declares(service: str) -> None:
    # A typo, or a code filed under the wrong service, would never match a real error.
    assert INVALID_INPUT[service] - _wire_codes(service) == set()


@pytest.mark.parametrize(("service", "code"), [(s, c) for s, c in UNMODELLED if s != "common"])
def test_unmodelled_codes_are_really_missing_from_the_model(service: str, code: str) -> None:
    # Once botocore declares one, it belongs in the checked table.
    assert code not in _wire_codes(service)


@pytest.mark.parametrize(
    "code",
    [
        "InvalidRepositoryNameException",
        "InvalidPullRequestIdException",
        "InvalidRevisionIdException",
        "InvalidInputException",
    ],
)
def test_the_codes_the_tester_found_are_in_the_table(code: str) -> None:
    assert any(code in codes for codes in INVALID_INPUT.values())


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("RepositoryDoesNotExistException", TargetGone),
        ("AccessDeniedException", AccessDenied),
        ("ThrottlingException", TransientError),
        ("AccountLimitExceededException", TransientError),
        ("ConcurrentReferenceUpdateException", TransientError),
        ("EncryptionKeyUnavailableException", TransientError),
        ("InvalidContinuationTokenException", TransientError),
        ("KMSThrottling", TransientError),
        ("SomethingNewException", TransientError),
        ("", TransientError),
    ],
)
def test_other_codes_keep_their_meaning(code: str, error: type[Exception]) -> None:
    assert type(translate(_error(code), "call")) is error


def test_gone_wins_over_the_table() -> None:
    # An adapter that knows better (a code meaning "target gone" for its call) is not overruled.
    translated = translate(_error("InvalidRevisionIdException"), "call", gone=frozenset({"InvalidRevisionIdException"}))
    assert isinstance(translated, TargetGone)
