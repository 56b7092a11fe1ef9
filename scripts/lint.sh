#!/usr/bin/env bash
# Lint (ruff: pyflakes, pycodestyle, import order, bugbear) and type-check (mypy on lsr/) with the versions
# pinned in the dev extra; run after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check lsr tests benchmarks
.venv/bin/mypy
