"""Lucene through the JVM: starting it, lsr's own Java classes and Anserini's, index writers and statistics."""
