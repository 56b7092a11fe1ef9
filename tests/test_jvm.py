"""JVM start-up: heap from LSR_JAVA_HEAP, one-line errors when Java or the jar is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lsr.errors import LsrError
from lsr.indexing import jvm


def test_heap_comes_from_the_environment():
    code = ("from lsr.indexing.jvm import jclass;"
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
