"""Restore progress as the operator reads it: sizes in the unit that fits, on a terminal and in a log."""

from __future__ import annotations

import io

import pytest

from codereflex.cli.main import progress_bar, size


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 B"),
        (400, "400 B"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (12_345, "12.3 KB"),
        (4_500_000, "4.5 MB"),
        (1_234_567_890, "1.2 GB"),
    ],
)
def test_a_size_is_shown_in_the_unit_that_fits(count: int, shown: str) -> None:
    assert size(count) == shown


def test_a_small_bundle_is_not_shown_as_nothing_in_a_log() -> None:
    # Given progress written to a file (not a terminal)
    log = io.StringIO()
    # When a 400-byte bundle is downloaded
    progress_bar(log)("backups/ledger/bundles/00000002-20261201T190305Z.bundle", 400)(400)
    # Then the one line says its size in bytes
    assert log.getvalue() == "  downloading 00000002-20261201T190305Z.bundle (400 B)\n"


def test_the_bar_counts_in_the_unit_of_the_whole() -> None:
    # Given a terminal
    terminal = Terminal()
    # When half of a 3 KB bundle, then the rest, arrive
    advance = progress_bar(terminal)("bundles/full.bundle", 3000)
    advance(1500)
    advance(1500)
    # Then the bar shows kilobytes of kilobytes, and ends its line when done
    assert terminal.getvalue() == (
        f"\r  full.bundle [{'#' * 15}{'.' * 15}] 1.5 KB/3.0 KB\r  full.bundle [{'#' * 30}] 3.0 KB/3.0 KB\n"
    )
