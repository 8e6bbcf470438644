"""Runner glue: command-line flags to config edits, config checks, checkpoint loading and saving, CPU-only
distributed runs."""
