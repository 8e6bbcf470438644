"""tools/serve.py's command line (custom/cli/serve.py): mistakes are one error line before anything listens.
The server itself is tested through a real process in tests/serving/."""

import pytest

from custom.cli import serve
from tests.helpers.tool_runs import DEMO_CONFIG


@pytest.mark.parametrize('argv, message', [
    ([DEMO_CONFIG, 'missing.pth'], 'missing.pth'),
    ([DEMO_CONFIG], '--backend pytorch takes CONFIG CHECKPOINT, got 1 files'),
    (['--backend', 'onnxruntime', 'missing.onnx'], 'missing.onnx: no such ONNX model'),
    ([DEMO_CONFIG, 'model.onnx'], 'model.onnx is an ONNX model: run it with --backend onnxruntime'),
    ([DEMO_CONFIG, 'x.pth', '--parallel', '2'], '--parallel above 1 needs --backend onnxruntime'),
    (['--backend', 'openvino', 'm.onnx', '--parallel', '2'], 'onnxruntime: --backend openvino runs one call'),
    ([DEMO_CONFIG, 'x.pth', '--queue', '-1'], '--queue must be 0 or more'),
    ([DEMO_CONFIG, 'x.pth', '--max-pixels', '0'], '--max-pixels must be positive'),
], ids=['missing-checkpoint', 'no-checkpoint', 'missing-onnx', 'onnx-as-checkpoint', 'parallel-pytorch',
        'parallel-openvino', 'negative-queue', 'zero-pixels'])
def test_mistake_is_one_error_line(argv, message, capsys):
    assert serve.main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith('error: ') and message in error and 'Traceback' not in error


def test_api_key_comes_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv(serve.API_KEY_ENV, 'from-env')
    assert serve.parse_args([DEMO_CONFIG, 'x.pth']).api_key == 'from-env'
    assert serve.parse_args([DEMO_CONFIG, 'x.pth', '--api-key', 'flag']).api_key == 'flag'
