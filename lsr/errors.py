"""The one exception type for user mistakes (bad files, ids, paths).

The CLI prints `LsrError` as a single line and exits with status 2; any other
exception is a bug and keeps its traceback.
"""


class LsrError(Exception):
    """A user-facing error whose message names the file, line or id at fault."""
