"""lsr: learned sparse retrieval — encode, index into Lucene, search, evaluate.

`import lsr` stays light: the heavy parts (torch, the JVM) load on first use from
their subpackages (`lsr.models`, `lsr.indexing`, ...).
"""

__version__ = "0.1.0"
