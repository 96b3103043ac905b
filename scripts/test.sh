#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite, lab tests included.
# Lab tests need root: NATPROBE_REQUIRE_LAB=1 makes them fail rather than skip when the
# lab cannot be built, so a green run means the real-NAT tests really ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export NATPROBE_REQUIRE_LAB="${NATPROBE_REQUIRE_LAB:-1}"
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
