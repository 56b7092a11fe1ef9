"""lsr: learned sparse retrieval — encode, index into Lucene, search, evaluate.

`import lsr` stays light and changes no process-wide state: the heavy parts (torch, the JVM)
load on first use from their subpackages (`lsr.models`, `lsr.lucene`, ...). docs/architecture.md
shows the subpackages and the order in which they may import each other.
"""

__version__ = "0.1.0"
