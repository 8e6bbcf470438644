"""Benchmarks that need their own environment (benchmarks/README.md); run as `python -m benchmarks.<name>`."""
