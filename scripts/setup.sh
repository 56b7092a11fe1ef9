#!/usr/bin/env bash
# Create .venv (once) and install lsr into it. torch 2.13.0 goes first so that
# pip takes the CPU build and never pulls a CUDA one.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"
