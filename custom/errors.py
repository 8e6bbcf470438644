"""Errors that tell the user which file is wrong and why, and how tools report them."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path


class UserError(Exception):
    """A mistake in the user's data, config, flags or files: tools print its message, without a traceback."""


class DataError(UserError, ValueError):
    """A problem with one file of a dataset: ``DataError(path, problem)`` reads 'path: problem'."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')


# Reported as one clear line; anything else (a bug) keeps its traceback.
USER_ERRORS = (UserError, FileNotFoundError)


def report_user_errors(main: Callable[..., int | None]) -> Callable[..., int]:
    """Decorates a tool's main(): a user error prints 'error: <message>' to stderr and returns 1, else 0
    (or main's own status)."""

    @functools.wraps(main)
    def run(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs) or 0
        except USER_ERRORS as error:
            print(f'error: {error}', file=sys.stderr)
            return 1

    return run


def exit_on_user_error(main: Callable[[], int | None]) -> None:
    """Runs a tool's main(); a user error prints 'error: <message>' and exits with status 1 (as does a
    non-zero status returned by main)."""
    status = report_user_errors(main)()
    if status:
        sys.exit(status)
