"""Every function's clients retry the same way and fail fast on a hung connection."""

from __future__ import annotations

from codereflex.aws.clients import client, lazy_client


def test_clients_use_standard_retries_and_short_timeouts() -> None:
    made = client("sns")
    assert made.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (made.meta.config.connect_timeout, made.meta.config.read_timeout) == (5, 10)
    assert client("s3", read_timeout=60).meta.config.read_timeout == 60


def test_a_lazy_client_is_made_on_first_use_with_the_same_settings() -> None:
    lazy = lazy_client("codebuild")
    assert lazy._client is None
    assert lazy.meta.service_model.service_name == "codebuild"
    assert lazy.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
