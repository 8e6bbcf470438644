"""Runner glue: flags to config edits, config checks, checkpoints, model zoo, CPU-only distributed runs."""
