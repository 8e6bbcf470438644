"""Assertions on what the validator reports."""

from pathlib import Path


def assert_findings(report, expected: set[tuple[str, str, str]]) -> None:
    """``report`` holds exactly the ``expected`` (severity, path's last two parts, start of the problem)."""
    actual = [(f.severity, '/'.join(Path(f.path).parts[-2:]), f.problem) for f in report.findings]
    unexpected = list(actual)
    for severity, name, start in expected:
        match = next((a for a in unexpected if a[:2] == (severity, name) and a[2].startswith(start)), None)
        assert match, f'{(severity, name, start)} not found in {actual}'
        unexpected.remove(match)
    assert not unexpected, f'unexpected findings: {unexpected}'
