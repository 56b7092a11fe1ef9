"""The `lsr` command line: one module per command, shared options in `options.py`, the group in `main.py`."""
