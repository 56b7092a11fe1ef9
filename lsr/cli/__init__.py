"""The `lsr` command line (`lsr.cli.main:cli`)."""
