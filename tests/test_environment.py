"""The environment is read in one place (`lsr.environment`): importing lsr changes nothing in the process, the
command line prepares it explicitly, and the JVM's heap is a parameter."""

from __future__ import annotations

import subprocess
import sys


def test_importing_lsr_changes_no_process_state():
    code = ("import os, sys; before = dict(os.environ)\n"
            "import lsr, lsr.models, lsr.cli.main, lsr.search.open, lsr.indexing.build, lsr.serve\n"
            "import lsr.models.splade, lsr.models.decoder, lsr.lucene.jvm\n"
            "print(dict(os.environ) == before, 'jnius' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert result.stdout.split() == ["True", "False"], result.stdout + result.stderr  # no variable, no JVM


def test_the_command_line_prepares_the_process_and_a_users_setting_wins(monkeypatch):
    from lsr.environment import prepare_process, read_environment

    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    monkeypatch.setenv("LSR_JAVA_HEAP", "3g")
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/x")
    prepare_process()
    import os

    assert os.environ["THP_MEM_ALLOC_ENABLE"] == "1" and os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"
    found = read_environment()
    assert (found.java_heap, found.java_home, found.cache_home) == ("3g", None, "/var/cache/x")
