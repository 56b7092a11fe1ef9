"""JVM start-up: heap from LSR_JAVA_HEAP, one-line errors when Java, the Anserini jar or lsr's own jar is
missing (or lsr's does not link); the committed jar equals a fresh build of java/src."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lsr.errors import LsrError
from lsr.lucene import jvm


def test_heap_comes_from_the_environment():
    code = ("from lsr.lucene.jvm import jclass;"
            "print(jclass('java.lang.Runtime').getRuntime().maxMemory() // 2**20)")
    env = {**os.environ, "LSR_JAVA_HEAP": "300m"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert 250 <= int(out.stdout.strip().splitlines()[-1]) <= 300


def test_missing_java_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LSR_JAVA_HOME", str(tmp_path))
    with pytest.raises(LsrError, match="Java not found"):
        jvm.java_home()


def test_missing_jar_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LSR_ANSERINI_JAR", str(tmp_path / "anserini.jar"))
    with pytest.raises(LsrError, match="Anserini jar not found"):
        jvm.anserini_jar()


def test_the_bundled_java_and_jar_are_found():
    assert (jvm.java_home() / "bin" / "java").exists()
    assert jvm.anserini_jar().name.endswith("-fatjar.jar")


def test_signals_stay_with_python_after_the_jvm_starts(tmp_path):
    """Ctrl-C is a KeyboardInterrupt and SIGTERM ends the process plainly: no JVM crash report."""
    # The handlers are set explicitly: a job started in the background inherits SIGINT ignored.
    code = ("import signal, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
            "from lsr.lucene.jvm import jclass\njclass('java.util.HashMap')()\n"
            "try:\n    print('up', flush=True)\n    time.sleep(60)\nexcept KeyboardInterrupt:\n"
            "    print('interrupted', flush=True)\n")  # 'up' inside the try: a signal right after it is caught
    for sig, expected in [(signal.SIGINT, "interrupted"), (signal.SIGTERM, None)]:
        process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "up"
        process.send_signal(sig)
        rest = process.stdout.read()
        assert process.wait(timeout=30) == (0 if expected else -signal.SIGTERM)
        assert (expected or "") in rest
    assert not list(tmp_path.glob("hs_err_pid*.log"))


def test_the_jvm_keeps_its_fault_handlers_when_something_resets_them(tmp_path):
    """`ray.shutdown` in a Ray driver resets SIGSEGV, SIGILL and SIGFPE to SIG_DFL (RayLog::UninstallSignalAction);
    `ray.init` installs Ray's crash reporter over them. HotSpot faults on purpose (a safepoint poll in compiled
    code, armed by each GC), so its next fault then killed the process: exit -11, no hs_err file, no traceback.
    lsr puts the JVM's handlers back on its way into Java."""
    code = ("import ctypes, signal, threading, time\nfrom lsr.lucene.jvm import jclass\n"
            "jclass('java.lang.System')\n"
            "libc = ctypes.CDLL(None)\n"
            "for sig in (signal.SIGSEGV, signal.SIGFPE, signal.SIGILL):\n"
            "    libc.signal(sig, ctypes.c_void_p(0))  # SIG_DFL, as ray.shutdown leaves them\n"
            "System, BigInteger = jclass('java.lang.System'), jclass('java.math.BigInteger')\n"
            "done = threading.Event()\n"
            "def collect():\n    while not done.is_set():\n        System.gc()\n        time.sleep(0.02)\n"
            "collector = threading.Thread(target=collect)\ncollector.start()\n"
            "end = time.monotonic() + 5\n"
            "while time.monotonic() < end:\n    BigInteger.valueOf(3).pow(200000).toString()  # compiled loops\n"
            "done.set()\ncollector.join()\nprint('survived', flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "survived" in done.stdout, (done.returncode, done.stderr[-2000:])
    assert not list(tmp_path.glob("hs_err_pid*.log"))


ROOT = Path(__file__).resolve().parent.parent
BUILD_HINT = "build lsr's Java classes with `bash scripts/build_java.sh`"


def test_the_committed_jar_equals_a_fresh_build_of_java_src():
    """scripts/build_java.sh --check compiles java/src into a temporary folder and compares the classes (and
    sources) with those in lsr/lucene/lsr-lucene.jar, byte for byte: a source edited without a rebuild, or a
    jar built from something else, fails here."""
    done = subprocess.run(["bash", str(ROOT / "scripts" / "build_java.sh"), "--check"], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, "LSR_ALLOW_NO_JDK": "1"}, timeout=300)
    if done.returncode == 0 and "no JDK >= 21 found" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "equal a fresh build" in done.stdout


def test_a_missing_helper_jar_is_a_one_line_error_saying_how_to_build_it(monkeypatch, tmp_path):
    missing = tmp_path / "lsr-lucene.jar"
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    for find in (jvm.bulk_searcher_class, jvm.impact_indexer_class):
        with pytest.raises(LsrError) as caught:
            find()
        assert str(caught.value) == f"{missing} is missing: {BUILD_HINT}"


def test_a_class_the_jvm_does_not_have_is_a_one_line_error():
    with pytest.raises(LsrError) as caught:
        jvm.helper_class("lsr.lucene.NoSuchHelper")
    assert str(caught.value) == (f"{jvm.HELPER_JAR}: lsr.lucene.NoSuchHelper is not on the class path of this JVM "
                                 f"(it started before lsr could add the jar, or without it)")


@pytest.mark.parametrize("error", ["NoSuchMethodError", "NoClassDefFoundError", "AbstractMethodError"])
def test_java_that_does_not_link_is_a_one_line_error_with_javas_first_line(error):
    """A Java linkage error inside lsr's calls: the jar was built against other Lucene/Anserini classes."""
    jnius = jvm.jnius()
    first = f"JVM exception occurred: java.lang.{error}: 'void org.apache.lucene.search.IndexSearcher.gone()'"
    with pytest.raises(LsrError) as caught:
        with jvm.java_errors("Lucene search"):
            raise jnius.JavaException(f"{first}\n\tat lsr.lucene.BulkSearcher.searchTexts(BulkSearcher.java:1)",
                                      f"java.lang.{error}", "gone", [])
    assert str(caught.value) == (f"{jvm.HELPER_JAR} does not link against {jvm.anserini_jar().name} on the class "
                                 f"path ({first}): rebuild it with `bash scripts/build_java.sh`")
    with pytest.raises(LsrError, match=r"^Lucene search failed: java.lang.IllegalStateException: closed$"):
        with jvm.java_errors("Lucene search"):
            raise jnius.JavaException("java.lang.IllegalStateException: closed\n\tat x", "", "", [])
