#!/usr/bin/env bash
# Set up, build, and serve the demo site (scripts/demo-site) with ePHPm on its embedded
# defaults. Stop with Ctrl-C. Usage: scripts/demo.sh [LISTEN_ADDR] (default 127.0.0.1:8080)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
listen=${1:-127.0.0.1:8080}
bin=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1)
step "serving the demo site: open http://$listen/ (Ctrl-C stops)"
exec "$bin" serve --root "$ROOT/scripts/demo-site" --listen "$listen"
