"""Command-line front ends: the argument parsing and main() of every tool in tools/ (run as
``python tools/<name>.py`` or ``python -m custom.cli.<name>``)."""
