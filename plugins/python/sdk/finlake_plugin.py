"""FinLake plugin SDK for Python (componentize-py).

Write a class with NAME, VERSION, ``__init__(self, config: dict)`` and
``process(self, record: Record, out: Emitter)``, then export it::

    from finlake_plugin import export
    class Upper:
        NAME = "upper"
        VERSION = "1.0.0"
        def __init__(self, config): pass
        def process(self, record, out):
            out.emit("out", {"text": record.value_str().upper()})
    Transform = export(Upper)

Raise any exception in ``process`` to reject that record: it goes to the dead-letter table with
the exception's message. The SDK hides the flat batch layout of ``wit/finlake.wit``.
"""
import json
import struct

__version__ = "0.1.0"

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

_ENTRY = struct.Struct("<IIIIiIqq")  # one 40-byte record entry
_ROW = struct.Struct("<IIHH")  # one 12-byte row entry


class Record:
    __slots__ = ("topic", "partition", "offset", "timestamp", "key", "value", "_headers")

    def __init__(self, topic, partition, offset, timestamp, key, value, headers):
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp  # ms since the Unix epoch, -1 if unknown
        self.key = key  # bytes, or None when the record has no key
        self.value = value  # bytes
        self._headers = headers

    def value_str(self):
        return self.value.decode("utf-8")

    def value_json(self):
        return json.loads(self.value)

    def key_str(self):
        return None if self.key is None else self.key.decode("utf-8", "replace")

    def headers(self):
        out, rest = [], self._headers
        while len(rest) >= 4:
            (n,) = struct.unpack_from("<I", rest, 0)
            name, rest = rest[4 : 4 + n], rest[4 + n :]
            (m,) = struct.unpack_from("<I", rest, 0)
            out.append((name.decode("utf-8", "replace"), rest[4 : 4 + m]))
            rest = rest[4 + m :]
        return out


class Emitter:
    def __init__(self):
        self._outputs = {}
        self._names = []
        self._rows = bytearray()
        self._data = bytearray()
        self._rejections = []
        self.current = 0

    def emit(self, output, row):
        """Emits a row (a dict that serializes to a JSON object) to the named output."""
        index = self._outputs.get(output)
        if index is None:
            index = self._outputs[output] = len(self._names)
            self._names.append(output)
        self._data += json.dumps(row, separators=(",", ":")).encode("utf-8")
        self._rows += _ROW.pack(len(self._data), self.current, index, 0)

    def _mark(self):
        return len(self._rows)

    def _reject(self, mark, reason):
        # A rejected record must not leave half its rows behind.
        del self._rows[mark:]
        end = struct.unpack_from("<I", self._rows, mark - 12)[0] if mark else 0
        del self._data[end:]
        self._rejections.append(types.Rejection(input=self.current, reason=reason))

    def _result(self):
        return types.BatchResult(
            outputs=self._names, rows=bytes(self._rows), data=bytes(self._data), rejections=self._rejections
        )


def log(level, message):
    """level: one of "trace", "debug", "info", "warn", "error"."""
    host.log(getattr(host.Level, level.upper()), message)


def export(plugin_class):
    """Returns the class componentize-py exports as the `transform` interface."""

    class Transform(exports.Transform):
        plugin = None

        def info(self):
            return types.PluginInfo(name=plugin_class.NAME, version=plugin_class.VERSION)

        def init(self, config):
            try:
                parsed = json.loads(config) if config.strip() else {}
                Transform.plugin = plugin_class(parsed)
            except Exception as e:  # the host shows this to the person who wrote the config
                raise Err(f"{type(e).__name__}: {e}")

        def process(self, batch):
            plugin = Transform.plugin
            if plugin is None:
                raise Err("process called before init")
            records, data = batch.records, batch.data
            if len(records) % 40:
                raise Err(f"malformed batch: records is {len(records)} bytes")
            out = Emitter()
            start = 0
            for i, (kend, vend, hend, flags, part, _, off, ts) in enumerate(_ENTRY.iter_unpack(records)):
                key = data[start:kend] if flags & 1 else None
                record = Record(batch.topic, part, off, ts, key, data[kend:vend], data[vend:hend])
                out.current = i
                mark = out._mark()
                try:
                    plugin.process(record, out)
                except Exception as e:
                    out._reject(mark, str(e) or type(e).__name__)
                start = hend
            return out._result()

    return Transform
