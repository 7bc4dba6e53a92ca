"""The pygit2 internals the mirror relies on, in one place, each with why: written for pygit2 1.17.0 (libgit2 1.9).

pygit2 is pinned (layers/git/requirements.txt: 1.17.0 is the newest whose wheels load on the
Lambda runtime). Before moving the pin, read each function here against that version's
pygit2/remotes.py and pygit2/callbacks.py, and run tests/integration/sandbox/git/test_mirror_fetch.py.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pygit2.callbacks import RemoteCallbacks, git_fetch_options
from pygit2.enums import FetchPrune
from pygit2.remotes import Remote, TransferProgress
from pygit2.utils import StrArray

# pygit2's cffi module: libgit2's C functions and constants as pygit2 itself calls them (untyped).
_NATIVE: Any = importlib.import_module("pygit2.ffi")
_STRINGS: Any = StrArray  # pygit2's list-of-str to git_strarray converter (untyped)


def fetch_with_headers(remote: Remote, refspecs: list[str], callbacks: RemoteCallbacks, headers: list[str]) -> None:
    """`remote.fetch(refspecs, callbacks=callbacks, prune=PRUNE)` with extra HTTP headers on every request.

    Why: pygit2 1.17 does not expose libgit2's `git_fetch_options.custom_headers`, and sending
    the Authorization header unasked saves CodeCommit's 401 round trip per fetch. How: what
    Remote.fetch does (pygit2's private `git_fetch_options` context and `Remote._remote`, the
    C handle), plus the headers; and no redirect is followed, so the headers go to no other host.
    """
    with git_fetch_options(callbacks) as payload:
        options = payload.fetch_options
        options.prune = FetchPrune.PRUNE
        options.follow_redirects = _NATIVE.C.GIT_REMOTE_REDIRECT_NONE
        with _STRINGS(headers) as custom, _STRINGS(refspecs) as specs:
            options.custom_headers = custom.ptr[0]
            payload.check_error(_NATIVE.C.git_remote_fetch(remote._remote, specs.ptr, options, _NATIVE.ffi.NULL))


def set_transfer_progress(callbacks: RemoteCallbacks, report: Callable[[TransferProgress], None] | None) -> None:
    """Replace the callbacks' `transfer_progress` method for this object alone (None: no call at all).

    Why: pygit2's C callback looks `transfer_progress` up on the callbacks object at every call and
    skips Python when it is falsy, so an instance attribute is how a fetch is aborted mid-transfer
    (an exception raised in it is re-raised by the fetch) or spared a Python call per object.
    """
    setattr(callbacks, "transfer_progress", report)  # noqa: B010  # shadows a method on purpose
