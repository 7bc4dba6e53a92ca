"""SNS subjects must be printable ASCII, one line, at most 100 characters, or SNS refuses the publish."""

from __future__ import annotations

from codereflex.aws.sns import SUBJECT_LIMIT, email_safe_subject


def test_a_short_ascii_subject_is_unchanged() -> None:
    assert email_safe_subject("Branch main deleted in repo") == "Branch main deleted in repo"


def test_unicode_and_line_breaks_are_made_safe() -> None:
    assert email_safe_subject("Tag été\ndeleted") == "Tag ?t? deleted"


def test_long_subjects_are_cut_with_an_ellipsis() -> None:
    subject = email_safe_subject("x" * 250)
    assert len(subject) == SUBJECT_LIMIT
    assert subject.endswith("...")
