"""Schemathesis hooks for FinLake's API (loaded by xtask/browser-test.sh via SCHEMATHESIS_HOOKS).

The API takes two raw bodies that schemathesis has no serializer for: a config as
`application/toml` (text) and a plugin component as `application/wasm` (bytes). Send the
generated values as text and as bytes, as the dashboard and the CLI do.
"""
import schemathesis

schemathesis.serializer.alias("application/toml", "text/plain")
schemathesis.serializer.alias("application/wasm", "application/octet-stream")
