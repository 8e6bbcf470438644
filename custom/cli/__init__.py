"""Command-line front ends: argument parsing and main() of every tool (``python tools/<name>.py``)."""
