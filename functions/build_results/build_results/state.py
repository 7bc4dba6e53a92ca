"""The state a living comment carries: its runs and version, signed, so only what codereflex wrote is read back."""

from __future__ import annotations

import base64
import json
import re
from typing import NamedTuple

from codereflex.revisions import Run, rank
from codereflex.signing import Signer

HISTORY_RUNS = 6

# A CommonMark link reference definition renders as nothing: the comment carries its own state,
# signed, so that only state codereflex wrote (never a copy or a hand-made one) is ever read back.
_MARKER = re.compile(r"^\[//\]: # \(codereflex:([A-Za-z0-9_=-]+)\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)\)$", re.MULTILINE)
_PURPOSE = "codereflex-comment-state"


class CommentState(NamedTuple):
    target: str
    project: str
    runs: tuple[Run, ...] = ()
    version: int = 0  # how many times the comment was written (see records.CommentClaims)

    @property
    def current(self) -> Run | None:
        return self.runs[0] if self.runs else None

    def merge(self, run: Run) -> CommentState | None:
        """The state with `run` folded in, or None when it tells nothing new (duplicate or older state)."""
        runs = list(self.runs)
        for index, known in enumerate(runs):
            if known.build_id == run.build_id:
                if rank(run.status) <= rank(known.status):
                    return None
                runs[index] = run._replace(number=run.number if run.number is not None else known.number)
                break
        else:
            runs.append(run)
        runs.sort(key=lambda item: item.order, reverse=True)
        kept = tuple(runs[:HISTORY_RUNS])
        if all(item.build_id != run.build_id for item in kept):
            return None  # older than everything the comment still shows
        return self._replace(runs=kept)

    def encode(self, signer: Signer) -> str:
        payload = {
            "t": self.target,
            "p": self.project,
            "r": [[r.build_id, r.status, r.commit, r.started, r.number] for r in self.runs],
            "n": self.version,
        }
        raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
        return f"[//]: # (codereflex:{raw}.{signer.key_id}.{signer.sign(_PURPOSE, raw)})"

    @classmethod
    def decode(cls, content: str, signer: Signer) -> CommentState | None:
        """The state a comment carries, or None unless codereflex signed it with the current key.

        Only the last marker counts (the footer's): any marker in the body above it is text the
        build printed. A marker without a valid signature is not state, whoever wrote it.
        """
        found = _MARKER.findall(content)
        if not found:
            return None
        raw, key_id, signature = found[-1]
        if key_id != signer.key_id or not signer.verify(_PURPOSE, raw, signature):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(raw))
            runs = tuple(
                Run(str(b), str(s), str(c), str(t), int(n) if n is not None else None) for b, s, c, t, n in payload["r"]
            )
            return cls(target=str(payload["t"]), project=str(payload["p"]), runs=runs, version=int(payload.get("n", 0)))
        except (ValueError, KeyError, TypeError, IndexError):
            return None
