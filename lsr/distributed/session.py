"""Joining a Ray cluster, and the errors of lsr raised in Ray workers raised again in the driver as themselves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lsr.errors import LsrError


def import_ray() -> Any:
    """The `ray` module; LsrError when the optional extra is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise LsrError("running on Ray needs the ray extra: pip install 'lsr[ray]'") from None
    return ray


def ray_session(address: str | None) -> Any:
    """The `ray` module, joined to the cluster at `address` unless Ray is already initialised (None:
    `ray.init`'s default, a local Ray or `RAY_ADDRESS`); LsrError without the ray extra."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    return ray


@contextmanager
def worker_errors() -> Iterator[None]:
    """An LsrError raised in a Ray worker, raised again here as itself (not wrapped in Ray's errors)."""
    try:
        yield
    except Exception as error:
        cause = _lsr_error(error)
        if cause is None:
            raise
        raise cause from None


def _lsr_error(error: BaseException) -> LsrError | None:
    """The LsrError a worker raised, found in the chain of errors Ray wraps it in (a wrapper keeps the
    original as `cause`)."""
    seen: BaseException | None = error
    while seen is not None:
        cause = getattr(seen, "cause", None)
        if isinstance(cause, LsrError):
            return LsrError(*cause.args)
        if isinstance(seen, LsrError) and cause is None:
            return seen
        seen = seen.__cause__ or (cause if isinstance(cause, BaseException) else None)
    return None
