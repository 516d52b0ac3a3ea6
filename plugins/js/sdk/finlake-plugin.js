// FinLake plugin SDK for JavaScript (componentize-js).
//
// Write a class with static NAME and VERSION, a constructor(config) and a
// process(record, out) method, then end your file with
//     export const transform = exportPlugin(MyPlugin);
// Throw in process() to reject that record: it goes to the dead-letter table with the message.
// The build concatenates this file with yours (componentize-js takes one module).
import { log as hostLog } from 'finlake:plugin/host@0.1.0';

const FINLAKE_SDK_VERSION = '0.1.0';

const ENTRY = 40; // bytes per record entry, see wit/finlake.wit
const ROW = 12; // bytes per row entry
const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

function log(level, message) {
  hostLog(level, String(message));
}

class FinlakeRecord {
  constructor(topic, partition, offset, timestamp, key, value, headers) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset; // BigInt
    this.timestamp = timestamp; // BigInt, ms since the Unix epoch (-1 if unknown)
    this.key = key; // Uint8Array or null
    this.value = value; // Uint8Array
    this.rawHeaders = headers;
  }
  valueString() {
    return utf8.decode(this.value);
  }
  valueJson() {
    return JSON.parse(this.valueString());
  }
  keyString() {
    return this.key === null ? null : utf8.decode(this.key);
  }
}

class FinlakeEmitter {
  constructor(capacity) {
    this.names = [];
    this.index = new Map();
    this.rows = new Uint8Array(Math.max(64, capacity * ROW));
    this.rowsView = new DataView(this.rows.buffer);
    this.rowsLen = 0;
    this.chunks = [];
    this.dataLen = 0;
    this.rejections = [];
    this.current = 0;
  }
  emit(output, row) {
    let i = this.index.get(output);
    if (i === undefined) {
      i = this.names.length;
      this.names.push(output);
      this.index.set(output, i);
    }
    const bytes = encoder.encode(JSON.stringify(row));
    this.chunks.push(bytes);
    this.dataLen += bytes.length;
    if (this.rowsLen + ROW > this.rows.length) {
      const grown = new Uint8Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
      this.rowsView = new DataView(grown.buffer);
    }
    this.rowsView.setUint32(this.rowsLen, this.dataLen, true);
    this.rowsView.setUint32(this.rowsLen + 4, this.current, true);
    this.rowsView.setUint16(this.rowsLen + 8, i, true);
    this.rowsView.setUint16(this.rowsLen + 10, 0, true);
    this.rowsLen += ROW;
  }
  mark() {
    return [this.rowsLen, this.chunks.length, this.dataLen];
  }
  reject(mark, reason) {
    // A rejected record must not leave half its rows behind.
    [this.rowsLen] = mark;
    this.chunks.length = mark[1];
    this.dataLen = mark[2];
    this.rejections.push({ input: this.current, reason: String(reason) });
  }
  result() {
    const data = new Uint8Array(this.dataLen);
    let at = 0;
    for (const c of this.chunks) {
      data.set(c, at);
      at += c.length;
    }
    return { outputs: this.names, rows: this.rows.slice(0, this.rowsLen), data, rejections: this.rejections };
  }
}

function exportPlugin(PluginClass) {
  let plugin = null;
  return {
    info() {
      return { name: PluginClass.NAME, version: PluginClass.VERSION };
    },
    init(config) {
      try {
        plugin = new PluginClass(config.trim() ? JSON.parse(config) : {});
      } catch (e) {
        throw `${e && e.message ? e.message : e}`;
      }
    },
    process(batch) {
      if (plugin === null) throw 'process called before init';
      const { records, data } = batch;
      if (records.length % ENTRY !== 0) throw `malformed batch: records is ${records.length} bytes`;
      const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
      const n = records.length / ENTRY;
      const out = new FinlakeEmitter(n);
      let start = 0;
      for (let i = 0; i < n; i++) {
        const e = i * ENTRY;
        const keyEnd = view.getUint32(e, true);
        const valueEnd = view.getUint32(e + 4, true);
        const headersEnd = view.getUint32(e + 8, true);
        const hasKey = (view.getUint32(e + 12, true) & 1) === 1;
        const record = new FinlakeRecord(
          batch.topic,
          view.getInt32(e + 16, true),
          view.getBigInt64(e + 24, true),
          view.getBigInt64(e + 32, true),
          hasKey ? data.subarray(start, keyEnd) : null,
          data.subarray(keyEnd, valueEnd),
          data.subarray(valueEnd, headersEnd),
        );
        out.current = i;
        const mark = out.mark();
        try {
          plugin.process(record, out);
        } catch (err) {
          out.reject(mark, err && err.message ? err.message : err);
        }
        start = headersEnd;
      }
      return out.result();
    },
  };
}
