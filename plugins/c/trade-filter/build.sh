#!/usr/bin/env bash
# Builds this plugin with the shared C SDK build (see ../sdk/build.sh).
exec "$(dirname "${BASH_SOURCE[0]}")/../sdk/build.sh" "$@"
