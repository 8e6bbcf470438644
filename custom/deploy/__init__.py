"""Deployment: export a trained detector to ONNX (export.py), run it with ONNX Runtime (onnx_runtime.py)."""
