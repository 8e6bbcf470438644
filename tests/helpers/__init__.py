"""What the tests share: writers of tiny data sets in the sources' real formats, tool runs on tiny data, a
fake download server, a fake detector, a tool run as a real server process, assertions on validator
findings, mmengine log capture, building test-mode datasets, and where the
repo and the real Penn-Fudan copy are."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The real Penn-Fudan copy beside the checkout (../shared/data/PennFudanPed); tests that need it skip
# without it.
REAL_PENNFUDAN = REPO.parent / 'shared' / 'data' / 'PennFudanPed'
