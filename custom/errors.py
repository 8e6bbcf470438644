"""Errors that tell the user which file is wrong and why."""

from pathlib import Path


class DataError(ValueError):
    """A problem with one file of a dataset: ``DataError(path, problem)`` reads 'path: problem'."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f'{self.path}: {problem}')
