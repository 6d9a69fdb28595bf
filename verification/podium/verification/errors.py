"""The one exception tree of Podium.

    PodiumError
    ├── ConfigError          invalid podium.toml or flags (names the key, the value, what is allowed)
    ├── InputError           bad input from a user or agent: a diff that does not apply, a path outside
    │                        the root, a binary or oversized file
    ├── VerificationError    a check could not run at all (not a rejected edit: that is a Verdict)
    │   └── ServerExited, ResponseError, ServerUnusable, ServerFailed (a language server, lspclient/lsppool)
    └── (in podium.orchestration.errors) StoreError ─ ConflictError, NotFoundError (unknown id),
        TransitionError, RoadmapError, LeaseError, WorkspaceError

Expected outcomes are values: a rejected edit is ``Verdict(accepted=False)``, never an exception.
The lowest layer owns the root so that every layer can raise into the same tree.
"""

from __future__ import annotations


class PodiumError(Exception):
    """Root of every error Podium raises on purpose.

    ``code`` is a stable machine-readable name the adapters map to wire error codes.
    """

    code: str = "podium_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(PodiumError):
    """Configuration that cannot be used; the message names the key, the value and what is allowed."""

    code = "config_error"


class InputError(PodiumError):
    """Input that Podium refuses: the message names the file (or id) and the reason."""

    code = "input_error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class VerificationError(PodiumError):
    """A verification source could not run (as opposed to an edit being rejected)."""

    code = "verification_error"
