"""The ONNX Runtime / OpenVINO benchmark: it runs in the project's environment when asked for the project's
backends only, and stops with how to get torchvision when its column is asked for without it."""

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
                            '--size', '64x48', '--warmup', '0', '--iters', '1', '--batch', '2',
                            '--threads', str(torch.get_num_threads())]) == 0  # the suite's threads stay
    report = capsys.readouterr().out
    assert 'torchvision not run | 1 images of 64x48' in report
    latency, throughput, bf16 = report[report.index('\nbackend '):].strip().split('\n\n')
    rows = [line.split() for line in latency.splitlines()[1:]]  # after the header
    assert [' '.join(row[:-4]) for row in rows] == [
        'PyTorch eager (mmdet)', 'ONNX Runtime (image to pasted masks)', 'ONNX Runtime (graph only)',
        'OpenVINO float32 (image to pasted masks)', 'OpenVINO float32 (graph only)',
        'OpenVINO bfloat16 (image to pasted masks)', 'OpenVINO bfloat16 (graph only)']
    assert len({row[-1] for row in rows[:5]}) == 1  # the same number of detections per image (float32)
    rows = [line.rsplit(maxsplit=2) for line in throughput.splitlines()]
    assert throughput.splitlines()[0].split() == ['backend', 'img/s,', '1', 'img/s,', '2']
    assert [row[0] for row in rows[1:]] == [
        'PyTorch eager (mmdet), one batch', 'ONNX Runtime, one image after another',
        'OpenVINO float32, one image after another', 'OpenVINO float32, all in flight (graph only)']
    assert all(float(value) > 0 for row in rows[1:] for value in row[1:])
    assert bf16.startswith('OpenVINO bfloat16 against float32 on the 1 images: ')
