"""The ONNX Runtime benchmark: it runs in the project's environment when asked for the project's backends
only, and stops with how to get torchvision when its column is asked for without it."""

import sys

import pytest
import torch

from benchmarks import onnx_speed


def test_torchvision_column_without_torchvision_stops_with_how_to_get_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, 'torchvision', None)  # makes `import torchvision` fail here
    assert onnx_speed.main(['--data-root', str(tmp_path / 'never_read')]) == 1
    error = capsys.readouterr().err
    assert error.startswith('error: torchvision cannot be imported here')
    assert 'bash benchmarks/setup_env.sh' in error and 'benchmarks.onnx_speed' in error
    assert '--skip-torchvision' in error


@pytest.mark.slow
def test_project_backends_alone_run_without_torchvision(monkeypatch, capsys, pennfudan_root):
    monkeypatch.setitem(sys.modules, 'torchvision', None)
    assert onnx_speed.main(['--skip-torchvision', '--data-root', str(pennfudan_root), '--images', '1',
                            '--size', '64x48', '--warmup', '0', '--iters', '1',
                            '--threads', str(torch.get_num_threads())]) == 0  # the suite's threads stay
    report = capsys.readouterr().out
    assert 'torchvision not run | 1 images of 64x48' in report
    table = report[report.index('\nbackend '):].splitlines()[2:]  # after the header
    rows = [line.split() for line in table]
    assert [' '.join(row[:-3]) for row in rows] == [
        'PyTorch eager (mmdet)', 'ONNX Runtime (image to pasted masks)', 'ONNX Runtime (graph only)']
    assert len({row[-1] for row in rows}) == 1  # the same number of detections per image in every backend
