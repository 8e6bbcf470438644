"""Every error the project raises for a user's mistake, and the one way tools report them.

A ``UserError`` is a mistake in the user's data, config, flags or files: tools print ``error: <message>``
and exit with status 1, without a traceback (``report_user_errors``). Anything else is a bug and keeps
its traceback.
"""

import functools
import pickle
import sys
from collections.abc import Callable
from pathlib import Path


class UserError(Exception):
    """A mistake in the user's data, config, flags or files."""


class DataError(UserError, ValueError):
    """A problem with one file of a dataset: ``DataError(path, problem)`` reads 'path: problem'."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')

    def __reduce__(self) -> tuple:  # pickled by path and problem (the validator's worker processes send it)
        return type(self), (self.path, self.problem)


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named (a config, checkpoint, model, image) does not exist."""


class ConfigError(UserError, ValueError):
    """A config (or command-line flag) mistake found before the runner is built."""


class DownloadError(UserError, RuntimeError):
    """A download failed; the message says what failed and where to put the file by hand.

    ``reason`` holds the cause alone, so callers can re-word the advice.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class ChecksumError(DownloadError):
    """The server answered, but with bytes that do not match the expected digest."""


class UnsafeCheckpointError(UserError, pickle.UnpicklingError):
    """A checkpoint pickles Python objects outside the allow-list, so it was not loaded."""


class ExportError(UserError, ValueError):
    """A config whose model or test pipeline the ONNX export cannot reproduce; the message names the part."""


class CheckpointMismatchError(UserError, ValueError):
    """A checkpoint whose weights do not fit the config's model (missing, unexpected or reshaped tensors)."""


class StepFailedError(UserError, RuntimeError):
    """A step of a job (a training, test or inference run in its own process) exited with an error."""


class RequestError(UserError):
    """An HTTP request the server refuses (custom/serving/): its status code, a message for the client, and
    headers to send with it (Retry-After)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def shortened(names: list[str], shown: int = 5) -> str:
    """The first ``shown`` names of a list for a message, and how many more there are."""
    more = f', ... ({len(names) - shown} more)' if len(names) > shown else ''
    return ', '.join(names[:shown]) + more


# Reported as one clear line; anything else (a bug, a FileNotFoundError from code that opens a path it made
# itself) keeps its traceback. A path the user gave is checked where it is opened (MissingFileError).
USER_ERRORS = (UserError,)


def report_user_errors(main: Callable[..., int | None]) -> Callable[..., int]:
    """Decorates a tool's ``main(argv=None)``: a user error prints 'error: <message>' to stderr and returns
    1; otherwise main's own status (None = 0). Tools end with ``sys.exit(main())``."""

    @functools.wraps(main)
    def run(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs) or 0
        except USER_ERRORS as error:
            print(f'error: {error}', file=sys.stderr)
            return 1

    return run
