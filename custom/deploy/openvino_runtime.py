"""Run a detector exported by tools/export_onnx.py with OpenVINO on the CPU: the same ONNX file, metadata and
numpy/OpenCV steps around the graph as ``OnnxDetector`` (custom/deploy/onnx_runtime.py); OpenVINO compiles
and runs the graph.

OpenVINO computes in bfloat16 by default on CPUs that have it (this machine's AVX-512 BF16): twice as fast
again, but on an untrained model a tenth of the detections then differ from ONNX Runtime's. It is asked for
float32 here, which gives ONNX Runtime's detections (tests/deploy/test_deploy.py; timings in
docs/benchmarks.md, "OpenVINO").

OpenVINO's CPU plugin also gives the thread that compiles a model an alternate signal stack of its own, and
puts back the one it replaced when the model is freed. Two models freed in the order they were made leave
the thread with the first one's stack, already unmapped: the next signal with a Python handler (Ctrl-C, the
SIGCHLD handler of a PyTorch DataLoader with workers) then kills the process with a segmentation fault.
``keep_signal_stack`` keeps the thread's own stack over the compilation, so every put-back is a live one.
"""

import contextlib
import ctypes
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openvino as ov

from custom.deploy.onnx_runtime import OnnxDetector
from custom.errors import ConfigError

PRECISIONS = ('f32', 'bf16')


class _SignalStack(ctypes.Structure):  # stack_t of sigaltstack(2)
    _fields_ = [('ss_sp', ctypes.c_void_p), ('ss_flags', ctypes.c_int), ('ss_size', ctypes.c_size_t)]


@contextlib.contextmanager
def keep_signal_stack() -> Iterator[None]:
    """The calling thread's alternate signal stack after the block is the one it had before (Linux; see the
    module docstring)."""
    if not sys.platform.startswith('linux'):
        yield
        return
    sigaltstack = ctypes.CDLL(None, use_errno=True).sigaltstack
    kept = _SignalStack()
    sigaltstack(None, ctypes.byref(kept))
    try:
        yield
    finally:
        sigaltstack(ctypes.byref(kept), None)


class OpenVinoDetector(OnnxDetector):
    """``OnnxDetector`` with the graph compiled and run by OpenVINO on the CPU for the lowest latency;
    ``precision`` 'f32' (default) or 'bf16' (see the module docstring)."""

    RUNTIME = 'OpenVINO'

    def __init__(self, path: str | Path, threads: int | None = None, precision: str = 'f32') -> None:
        if precision not in PRECISIONS:
            raise ConfigError(f'OpenVINO precision must be one of {PRECISIONS}, got {precision!r}')
        self.precision = precision
        super().__init__(path, threads)

    def load_graph(self, path: Path, threads: int) -> tuple[dict[str, str], int]:
        core = ov.Core()
        model = core.read_model(str(path))
        # the ONNX file's metadata_props, as OpenVINO keeps them
        meta = ({key: value.astype(str) for key, value in model.get_rt_info()['framework'].items()}
                if model.has_rt_info('framework') else {})
        settings = {'INFERENCE_PRECISION_HINT': self.precision, 'PERFORMANCE_HINT': 'LATENCY'}
        if threads:
            settings['INFERENCE_NUM_THREADS'] = threads
        with keep_signal_stack():
            self.request = core.compile_model(model, 'CPU', settings).create_infer_request()
        return meta, len(model.outputs)

    def run_graph(self, image: np.ndarray) -> list[np.ndarray]:
        return list(self.request.infer([image]).values())
