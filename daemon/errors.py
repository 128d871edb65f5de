"""Project exceptions: each one is a one-line message a user can act on.

The CLI turns them into that line and an exit code; tracebacks are for bugs.
"""


class EarmarkError(Exception):
    """A failure the user can do something about."""

    exit_code = 1


class ConfigError(EarmarkError):
    """The configuration file is missing, malformed or names something unknown."""

    exit_code = 2

    def __init__(self, path: str, message: str, line: int | None = None, key: str | None = None):
        self.path = path
        self.line = line
        self.key = key
        where = path if line is None else f"{path}:{line}"
        what = f" key '{key}':" if key else ""
        super().__init__(f"{where}:{what} {message}")


class StoreError(EarmarkError):
    """The database cannot be opened or is from a newer earmark."""

    exit_code = 3


class NotRunningError(EarmarkError):
    """No daemon answers on the control channel."""

    exit_code = 3


class TranscriberError(EarmarkError):
    """A transcriber could not be built or did not answer."""

    exit_code = 4


class ClipError(EarmarkError):
    """The audio of a window could not be cut."""


class FeedError(EarmarkError):
    """A feed could not be fetched or parsed."""


class RetryLater(EarmarkError):
    """A job that could not be done now and should be tried again after
    ``seconds`` (a server's Retry-After), not after the usual backoff."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class GiveUp(EarmarkError):
    """A job that cannot succeed as it is (the other side refused it for good):
    failed at once, not retried."""
