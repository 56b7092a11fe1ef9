"""Whether a command shows progress bars: yes, unless the command line says `lsr -q`."""

from __future__ import annotations

import click


def show_progress() -> bool:
    """False under `lsr -q` (the root command's quiet flag), else True."""
    return not click.get_current_context().find_root().params.get("quiet", False)
