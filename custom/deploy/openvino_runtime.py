"""Run a detector exported by tools/export_onnx.py with OpenVINO on the CPU: the same ONNX file, metadata and
numpy/OpenCV steps around the graph as ``OnnxDetector`` (custom/deploy/onnx_runtime.py); OpenVINO compiles
and runs the graph.

OpenVINO computes in bfloat16 by default on CPUs that have it (this machine's AVX-512 BF16): twice as fast
again, but on an untrained model a tenth of the detections then differ from ONNX Runtime's. It is asked for
float32 here, which gives ONNX Runtime's detections (tests/deploy/test_deploy.py; timings in
docs/benchmarks.md, "OpenVINO").
"""

from pathlib import Path

import numpy as np
import openvino as ov

from custom.deploy.onnx_runtime import OnnxDetector
from custom.errors import ConfigError

PRECISIONS = ('f32', 'bf16')


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
        self.request = core.compile_model(model, 'CPU', settings).create_infer_request()
        return meta, len(model.outputs)

    def run_graph(self, image: np.ndarray) -> list[np.ndarray]:
        return list(self.request.infer([image]).values())
