'use strict';
// test.js - arrow-rs, the Rust Parquet implementation (as parquet-wasm, its
// WebAssembly build, with apache-arrow to build the tables), against
// minidb's Parquet files, both ways. arrow-rs writes what the DuckDB test
// cannot make: dictionaries that fall back to PLAIN (or DELTA) pages inside
// the same column chunk, DATA_PAGE_V2, DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, REQUIRED columns and many small
// pages, with every codec; minidb-parquet reads them (inspect, cat, load and
// a server started on the result). arrow-rs then reads the snapshots that
// minidb-parquet load and the server's SAVE write, as an independent reader
// of our writer.
//
// Run by CTest as interop/arrow (MINIDB_BIN and MINIDB_PARQUET set); by
// hand: MINIDB_BIN=build/minidb MINIDB_PARQUET=build/minidb-parquet node
// tests/interop/arrow/test.js. Set MINIDB_ARROW_FAILURES_DIR to keep every
// file minidb-parquet fails on (with its inspect output) in that directory.
// ../lib/minidb-server.js starts the servers (--port 0, the port read
// from the "listening" log line), bounds every wait (scaled by
// MINIDB_TEST_TIMEOUT_MULTIPLIER), arms a watchdog and removes the temp dir
// at exit; the RESP client (../lib/resp-client.js), running minidb-parquet,
// the lines cat prints and the server checks (../lib/parquet-tool.js) are
// shared with the DuckDB test. Exit status 0 when every test passed, 1
// otherwise.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const arrow = require('apache-arrow');
const pw = require('parquet-wasm');
const { MULT, setup } = require('../lib/minidb-server.js');
const { RespError, Resp, startLoadedServer: startLoaded } = require('../lib/resp-client.js');
const { parquetTool, quoted, catLine, liveRows, checkServer } = require('../lib/parquet-tool.js');

const BIN = process.env.MINIDB_BIN || path.resolve(__dirname, '../../../build/minidb');
const TOOL = process.env.MINIDB_PARQUET || path.resolve(__dirname, '../../../build/minidb-parquet');
const FAILURES_DIR = process.env.MINIDB_ARROW_FAILURES_DIR || '';
const START_TIMEOUT_MS = 10000 * MULT;
const STOP_TIMEOUT_MS = 10000 * MULT;
const TOOL_TIMEOUT_MS = 30000 * MULT;
const TEST_TIMEOUT_MS = 90000 * MULT;
const WATCHDOG_MS = 170000 * MULT;

const harness = setup({
  name: 'arrow',
  bin: BIN,
  watchdogMs: WATCHDOG_MS,
  startTimeoutMs: START_TIMEOUT_MS,
  stopTimeoutMs: STOP_TIMEOUT_MS,
});
const { fatal, freshDir, stopServer } = harness;
const { runTool, tool } = parquetTool({ bin: TOOL, timeoutMs: TOOL_TIMEOUT_MS, fatal });

// A server on dataDir that has loaded it (answers PING with PONG).
function startLoadedServer(dataDir) {
  return startLoaded(harness, dataDir, START_TIMEOUT_MS);
}

// ---- what minidb-parquet cat prints ----

// Asserts that `minidb-parquet cat file ...args` prints exactly want's rows,
// naming the first row that differs.
async function assertCat(file, want, what, ...args) {
  const out = await runTool(['cat', file, ...args]);
  assert.equal(out.status, 0, `${what}: minidb-parquet cat exited ${out.status}: ${out.stderr}`);
  const lines = out.stdout.toString('latin1').split('\n');
  assert.equal(lines.pop(), '', `${what}: cat output ends with a newline`);
  const n = Math.min(lines.length, want.length);
  for (let i = 0; i < n; i++) {
    const w = catLine(want[i]);
    if (lines[i] !== w) assert.fail(`${what}: row ${i} of ${want.length}: cat printed\n  ${lines[i]}\nexpected\n  ${w}`);
  }
  assert.equal(lines.length, want.length, `${what}: cat line count`);
}

// ---- building Arrow tables ----

// Arrow data of a Utf8 or Binary column from Buffers (null: NULL).
function bytesData(type, vals) {
  const offsets = new Int32Array(vals.length + 1);
  let total = 0;
  vals.forEach((v, i) => {
    offsets[i] = total;
    total += v ? v.length : 0;
  });
  offsets[vals.length] = total;
  const data = new Uint8Array(total);
  vals.forEach((v, i) => {
    if (v) data.set(v, offsets[i]);
  });
  return arrow.makeData({ type, length: vals.length, valueOffsets: offsets, data, ...validity(vals) });
}

// Arrow data of an Int64 or Timestamp column from raw integers (BigInt or
// Number; null: NULL).
function int64Data(type, vals) {
  const data = new BigInt64Array(vals.length);
  vals.forEach((v, i) => {
    data[i] = v === null ? 0n : BigInt(v);
  });
  return arrow.makeData({ type, length: vals.length, data, ...validity(vals) });
}

function validity(vals) {
  const nullCount = vals.reduce((n, v) => n + (v === null ? 1 : 0), 0);
  if (nullCount === 0) return { nullCount: 0 };
  const nullBitmap = new Uint8Array((vals.length + 7) >> 3);
  vals.forEach((v, i) => {
    if (v !== null) nullBitmap[i >> 3] |= 1 << (i & 7);
  });
  return { nullCount, nullBitmap };
}

// An Arrow table of one record batch from [Field, Data] pairs.
function makeTable(columns) {
  const fields = columns.map(([f]) => f);
  const schema = new arrow.Schema(fields);
  const length = columns[0][1].length;
  const batch = new arrow.RecordBatch(schema, arrow.makeData({
    type: new arrow.Struct(fields), length, children: columns.map(([, d]) => d), nullCount: 0,
  }));
  return new arrow.Table(schema, [batch]);
}

// Writes table with arrow-rs; props is a WriterPropertiesBuilder.
function writeWithArrowRs(file, table, props) {
  const bytes = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props.build());
  fs.writeFileSync(file, bytes);
  return bytes;
}

// Reads a Parquet file with arrow-rs into an apache-arrow Table.
function readWithArrowRs(file) {
  return arrow.tableFromIPC(pw.readParquet(fs.readFileSync(file)).intoIPCStream());
}

// ---- page headers, walked independently of minidb ----

// A Thrift compact protocol reader, enough to decode a PageHeader into
// { fieldId: value } objects (structs nested the same way, lists as arrays).
class Compact {
  constructor(buf, pos) {
    this.buf = buf;
    this.pos = pos;
  }

  byte() {
    if (this.pos >= this.buf.length) throw new Error('page header runs past the column chunk');
    return this.buf[this.pos++];
  }

  varint() {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      const b = this.byte();
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
    throw new Error('varint too long');
  }

  zigzag() {
    const v = this.varint();
    return v % 2 ? -(v + 1) / 2 : v / 2;
  }

  value(type, depth) {
    switch (type) {
      case 1:
        return true;
      case 2:
        return false;
      case 3:
        return this.byte();
      case 4:
      case 5:
      case 6:
        return this.zigzag();
      case 7:
        this.pos += 8;
        return null;
      case 8: {
        const n = this.varint();
        const b = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return b;
      }
      case 9:
      case 10: {
        const h = this.byte();
        const n = h >> 4 === 15 ? this.varint() : h >> 4;
        const items = [];
        for (let i = 0; i < n; i++) items.push((h & 15) <= 2 ? this.byte() === 1 : this.value(h & 15, depth + 1));
        return items;
      }
      case 11: {
        const n = this.varint();
        const kv = n ? this.byte() : 0;
        for (let i = 0; i < n; i++) {
          this.value(kv >> 4, depth + 1);
          this.value(kv & 15, depth + 1);
        }
        return null;
      }
      case 12:
        return this.struct(depth + 1);
      default:
        throw new Error(`unknown compact type ${type} at ${this.pos}`);
    }
  }

  struct(depth = 0) {
    if (depth > 16) throw new Error('structs nested too deep');
    const out = {};
    let id = 0;
    for (;;) {
      const h = this.byte();
      if (h === 0) return out;
      id = h >> 4 ? id + (h >> 4) : this.zigzag();
      out[id] = this.value(h & 15, depth);
    }
  }
}

// parquet.thrift's numbering (parquet-wasm's Encoding enum differs).
const ENCODING_NAME = ['PLAIN', 'GROUP_VAR_INT', 'PLAIN_DICTIONARY', 'RLE', 'BIT_PACKED', 'DELTA_BINARY_PACKED',
  'DELTA_LENGTH_BYTE_ARRAY', 'DELTA_BYTE_ARRAY', 'RLE_DICTIONARY', 'BYTE_STREAM_SPLIT'];
const PAGE_TYPE_NAME = ['DATA_PAGE', 'INDEX_PAGE', 'DICTIONARY_PAGE', 'DATA_PAGE_V2'];

// The pages of the column chunk of `compressed` bytes at `start`: one
// { type, encoding, values } per page, in file order.
function walkPages(bytes, start, compressed) {
  const pages = [];
  let pos = start;
  for (let n = 0; pos < start + compressed; n++) {
    if (n > 1e6) throw new Error('too many pages');
    const r = new Compact(bytes, pos);
    const h = r.struct();
    const type = PAGE_TYPE_NAME[h[1]] || String(h[1]);
    const sub = h[5] || h[7] || h[8] || {};
    const encoding = ENCODING_NAME[h[8] ? sub[4] : sub[2]];
    pages.push({ type, encoding, values: sub[1] });
    pos = r.pos + h[3];
  }
  assert.equal(pos, start + compressed, 'pages end where the column chunk ends');
  return pages;
}

// What `minidb-parquet inspect` says about a file: { text, rowGroups,
// chunks: [{ rowGroup, name, type, codec, encodings[], compressed, start }] },
// start being the chunk's first page (dictionary page or data page).
async function inspect(file) {
  const text = await tool('inspect', file);
  const chunks = [];
  let rowGroup = -1;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    let m = line.match(/^row group (\d+):/);
    if (m) rowGroup = Number(m[1]);
    m = line.match(/^\s+column \d+ "([^"]*)": (\w+), codec (\w+), encodings ([\w,]+)/);
    if (!m) return;
    const next = lines[i + 1] || '';
    const sizes = next.match(/compressed (\d+) bytes, .*data page at (\d+)(?:, dictionary page at (\d+))?/);
    assert.ok(sizes, `inspect line after ${line}: ${next}`);
    const data = Number(sizes[2]);
    const dict = sizes[3] === undefined ? null : Number(sizes[3]);
    chunks.push({
      rowGroup, name: m[1], type: m[2], codec: m[3], encodings: m[4].split(','),
      compressed: Number(sizes[1]), start: dict === null ? data : Math.min(dict, data),
    });
  });
  const rg = text.match(/^row groups:\s+(\d+)$/m);
  assert.ok(rg, `inspect prints the row group count:\n${text}`);
  return { text, rowGroups: Number(rg[1]), chunks };
}

// Copies a file minidb-parquet failed on, with its inspect output, to
// MINIDB_ARROW_FAILURES_DIR when that is set.
async function keepFailure(file, err) {
  if (!FAILURES_DIR) return;
  fs.mkdirSync(FAILURES_DIR, { recursive: true });
  const base = path.join(FAILURES_DIR, path.basename(file));
  fs.copyFileSync(file, base);
  const r = await runTool(['inspect', file]).catch((e) => ({ stdout: '', stderr: String(e) }));
  fs.writeFileSync(`${base}.txt`, `${err && err.stack}\n\n--- inspect ---\n${r.stdout}${r.stderr}`);
}

// ---- the rows arrow-rs writes ----

const NOW = Date.now();
const HOUR = 3600 * 1000;
const ROWS = 20000;
const UNIT_SCALE = { ms: 1n, us: 1000n, ns: 1000000n };
const TIMESTAMP_TYPE = {
  ms: () => new arrow.TimestampMillisecond('UTC'),
  us: () => new arrow.TimestampMicrosecond('UTC'),
  ns: () => new arrow.TimestampNanosecond('UTC'),
};
const PARQUET_UNIT = { ms: 'MILLIS', us: 'MICROS', ns: 'NANOS' };

// ROWS rows in key order with unique keys (ASCII with long shared prefixes,
// unicode, quotes, backslashes, control bytes), values that repeat for the
// first few thousand rows (so a dictionary pays) and are then nearly all
// distinct (so it overflows), empty values, a few values larger than a
// page, NULL values when nullable, binary bytes when binary, and expiries
// in the future (with sub-millisecond parts in micros and nanos) and past.
// Returns { rows: [{ key, value, exp (Unix ms, floored) }], raw: [expiry in
// unit] }.
function sourceRows({ binary, nullable, unit }) {
  const rows = [];
  const raw = [];
  for (let i = 0; i < ROWS; i++) {
    let key;
    if (i % 500 === 1) key = `clé-${i}-日本-🎉`;
    else if (i % 500 === 2) key = `q"uo\\te${i}\n\t\r\x01\x7f`;
    else key = `user:${String(i).padStart(8, '0')}`;
    let value;
    if (nullable && i % 13 === 0) value = null;
    else if (i % 11 === 0) value = Buffer.alloc(0);
    else if (i % 997 === 5) value = Buffer.from('L'.repeat(3000 + (i % 7)));
    else if (binary && i % 7 === 3) value = Buffer.from([0x00, 0xff, 0x80, 0x0d, 0x0a, i & 0xff, (i >> 8) & 0xff]);
    else if (i < 3000) value = Buffer.from(i % 9 === 0 ? `välue ✓ ${i % 3}` : `value-${i % 5}`);
    else value = Buffer.from(`v${i}-${'x'.repeat(i % 40)}`);
    let exp = null;
    let r = null;
    if (i % 4 === 0) {
      exp = NOW + HOUR + (i % 1000) * 1000 + (i % 3);
      r = BigInt(exp) * UNIT_SCALE[unit] + (unit === 'ms' ? 0n : BigInt(i % 997));
    } else if (i % 29 === 0) {
      exp = NOW - HOUR;
      r = BigInt(exp) * UNIT_SCALE[unit];
    }
    rows.push({ key: Buffer.from(key), value, exp });
    raw.push(r);
  }
  return { rows, raw };
}

function sourceTable(shape) {
  const { rows, raw } = sourceRows(shape);
  const valueType = shape.binary ? new arrow.Binary() : new arrow.Utf8();
  const table = makeTable([
    [new arrow.Field('key', new arrow.Utf8(), false), bytesData(new arrow.Utf8(), rows.map((r) => r.key))],
    [new arrow.Field('value', valueType, shape.nullable), bytesData(valueType, rows.map((r) => r.value))],
    [new arrow.Field('expires_at', TIMESTAMP_TYPE[shape.unit](), true), int64Data(TIMESTAMP_TYPE[shape.unit](), raw)],
  ]);
  return { rows, table };
}

const CODECS = ['uncompressed', 'snappy', 'gzip', 'zstd', 'brotli', 'lz4_raw'];
const PW_CODEC = {
  uncompressed: pw.Compression.UNCOMPRESSED,
  snappy: pw.Compression.SNAPPY,
  gzip: pw.Compression.GZIP,
  zstd: pw.Compression.ZSTD,
  brotli: pw.Compression.BROTLI,
  lz4_raw: pw.Compression.LZ4_RAW,
};
const PARQUET_CODEC_NAME = {
  uncompressed: 'UNCOMPRESSED', snappy: 'SNAPPY', gzip: 'GZIP', zstd: 'ZSTD', brotli: 'BROTLI', lz4_raw: 'LZ4_RAW',
};

// The 24 files: every codec x writer version 1 and 2 x { dictionary on
// every column with a 16 KiB dictionary page limit, so that a chunk holds
// a few dictionary-encoded pages and then falls back; no dictionary with
// DELTA_* encodings }. Data pages are limited to 256 bytes (dictionary
// indices) or 1 KiB, and arrow-rs checks the limits every 64 rows. The value column's
// type and nullability, the expiry's unit, the fallback encoding (version 2:
// arrow-rs's default DELTA_* or PLAIN by request) and the row group size
// vary across the cases so that each combination is met somewhere.
function cases() {
  const out = [];
  CODECS.forEach((codec, ci) => {
    for (const version of [1, 2]) {
      for (const mode of ['dict', 'delta']) {
        const k = ci * 2 + version - 1;
        const c = {
          codec, version, mode,
          binary: (ci + version) % 2 === 1,
          nullable: mode === 'dict' ? ci % 2 === 0 : ci % 2 === 1,
          unit: ['ms', 'us', 'ns'][k % 3],
          rowGroupRows: version === 2 && (mode === 'delta' || ci % 2 === 1) ? 8192 : null,
        };
        if (mode === 'dict') {
          // arrow-rs falls back to PLAIN for version 1 and to DELTA_* for
          // version 2 unless told otherwise.
          c.explicitPlain = version === 2 && ci % 2 === 0;
          c.fallback = version === 1 || c.explicitPlain
            ? { key: 'PLAIN', value: 'PLAIN', expires_at: 'PLAIN' }
            : { key: 'DELTA_BYTE_ARRAY', value: 'DELTA_BYTE_ARRAY', expires_at: 'DELTA_BINARY_PACKED' };
        } else {
          const [a, b] = version === 1 ? ['DELTA_BYTE_ARRAY', 'DELTA_LENGTH_BYTE_ARRAY'] : ['DELTA_LENGTH_BYTE_ARRAY', 'DELTA_BYTE_ARRAY'];
          c.encoding = { key: a, value: b, expires_at: 'DELTA_BINARY_PACKED' };
        }
        c.name = `${codec}-v${version}-${mode}-${c.binary ? 'binary' : 'utf8'}-${c.nullable ? 'optional' : 'required'}-${c.unit}`;
        out.push(c);
      }
    }
  });
  return out;
}

function writerProps(c) {
  let b = new pw.WriterPropertiesBuilder()
    .setCompression(PW_CODEC[c.codec])
    .setWriterVersion(c.version === 1 ? pw.WriterVersion.V1 : pw.WriterVersion.V2)
    .setDataPageSizeLimit(c.mode === 'dict' ? 256 : 1024)
    .setDictionaryPageSizeLimit(16384)
    .setWriteBatchSize(64)
    .setDictionaryEnabled(c.mode === 'dict')
    .setCreatedBy(`minidb interop test (${c.name})`);
  if (c.rowGroupRows) b = b.setMaxRowGroupSize(c.rowGroupRows);
  if (c.explicitPlain) b = b.setEncoding(pw.Encoding.PLAIN);
  if (c.encoding) {
    for (const [col, enc] of Object.entries(c.encoding)) b = b.setColumnEncoding(col, pw.Encoding[enc]);
  }
  return b;
}

// Checks with inspect and the page headers that arrow-rs wrote what c asks
// for: the schema, the codec, and per column chunk the pages (their type,
// how many, the dictionary page and the encodings in order).
async function assertFileShape(file, c) {
  const info = await inspect(file);
  const t = info.text;
  assert.match(t, /^created_by:\s+"minidb interop test/m, t);
  assert.match(t, new RegExp(`^num_rows:\\s+${ROWS}$`, 'm'), t);
  assert.match(t, /"key": BYTE_ARRAY REQUIRED .*STRING/m, t);
  assert.match(t, new RegExp(`"value": BYTE_ARRAY ${c.nullable ? 'OPTIONAL' : 'REQUIRED'}${c.binary ? '$' : ' .*STRING'}`, 'm'), t);
  assert.match(t, new RegExp(`"expires_at": INT64 OPTIONAL .*logical TIMESTAMP\\(${PARQUET_UNIT[c.unit]}, UTC\\)`, 'm'), t);
  assert.equal(info.rowGroups, c.rowGroupRows ? Math.ceil(ROWS / c.rowGroupRows) : 1, 'row groups');
  assert.equal(info.chunks.length, info.rowGroups * 3, 'column chunks');

  const bytes = fs.readFileSync(file);
  const dataType = c.version === 1 ? 'DATA_PAGE' : 'DATA_PAGE_V2';
  const summary = {};
  for (const ch of info.chunks) {
    assert.equal(ch.codec, PARQUET_CODEC_NAME[c.codec], `${ch.name}: codec`);
    const pages = walkPages(bytes, ch.start, ch.compressed);
    const data = pages.filter((p) => p.type !== 'DICTIONARY_PAGE');
    for (const p of data) assert.equal(p.type, dataType, `${ch.name}: page type`);
    const encs = data.map((p) => p.encoding);
    for (const e of new Set(encs)) assert.ok(ch.encodings.includes(e), `${ch.name}: footer encodings ${ch.encodings} lack ${e}`);
    const s = (summary[ch.name] = summary[ch.name] || { pages: 0, dictPages: 0, dictData: 0, fallback: 0 });
    s.pages += data.length;
    if (c.mode === 'dict') {
      assert.equal(pages[0].type, 'DICTIONARY_PAGE', `${ch.name}: the chunk starts with a dictionary page`);
      assert.equal(pages.filter((p) => p.type === 'DICTIONARY_PAGE').length, 1, `${ch.name}: one dictionary page`);
      // Dictionary-encoded pages first, then only fallback pages.
      const firstFallback = encs.findIndex((e) => e !== 'RLE_DICTIONARY');
      if (firstFallback >= 0) {
        assert.ok(encs.slice(firstFallback).every((e) => e === c.fallback[ch.name]),
          `${ch.name}: after the dictionary only ${c.fallback[ch.name]} pages, got ${encs}`);
      }
      s.dictPages++;
      s.dictData += firstFallback < 0 ? encs.length : firstFallback;
      s.fallback += firstFallback < 0 ? 0 : encs.length - firstFallback;
    } else {
      assert.ok(pages.every((p) => p.type !== 'DICTIONARY_PAGE'), `${ch.name}: no dictionary page`);
      assert.ok(encs.every((e) => e === c.encoding[ch.name]), `${ch.name}: every page ${c.encoding[ch.name]}, got ${encs}`);
    }
  }
  // Many small pages in the byte array columns, and (dictionary mode) the
  // key and value chunks fall back mid-chunk: dictionary pages, then others.
  for (const col of ['key', 'value']) {
    assert.ok(summary[col].pages >= 20, `${col}: ${summary[col].pages} data pages, expected many`);
    if (c.mode === 'dict') {
      assert.ok(summary[col].dictData >= 2 && summary[col].fallback >= 1,
        `${col}: ${summary[col].dictData} dictionary-encoded and ${summary[col].fallback} fallback pages`);
    }
  }
  return summary;
}

// Cases that are also loaded into a data dir that a server then starts on.
const SERVER_CASES = new Set([
  'zstd-v2-dict', 'gzip-v1-delta', 'lz4_raw-v2-delta', 'brotli-v1-dict', 'snappy-v2-dict',
]);

// ---- arrow-rs writes, minidb reads ----

test('minidb-parquet reads what arrow-rs writes: every codec, data pages v1 and v2, dictionaries falling back mid-chunk, DELTA_* encodings, REQUIRED columns, many small pages', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = freshDir('arrow-written');
  const shapes = new Map(); // one source table per shape
  for (const c of cases()) {
    await t.test(c.name, async () => {
      const shapeKey = `${c.binary}-${c.nullable}-${c.unit}`;
      if (!shapes.has(shapeKey)) shapes.set(shapeKey, sourceTable(c));
      const { rows, table } = shapes.get(shapeKey);
      const file = path.join(dir, `${c.name}.parquet`);
      writeWithArrowRs(file, table, writerProps(c));
      try {
        const shape = await assertFileShape(file, c);
        t.diagnostic(`${c.name}: ${JSON.stringify(shape)}`);
        await assertCat(file, rows, c.name);
        if (SERVER_CASES.has(`${c.codec}-v${c.version}-${c.mode}`)) {
          const dataDir = path.join(freshDir('load'), 'data');
          const res = await tool('load', file, '--data-dir', dataDir);
          assert.match(res, new RegExp(`^rows read:\\s+${ROWS}$`, 'm'), res);
          const kept = liveRows(rows, Date.now());
          assert.match(res, new RegExp(`^written:\\s+${kept.length}$`, 'm'), res);
          const server = await startLoadedServer(dataDir);
          try {
            await checkServer(server.port, liveRows(rows, Date.now()));
          } finally {
            assert.equal(await stopServer(server), 0, `server on the loaded dir; log:\n${server.log()}`);
          }
        }
      } catch (e) {
        await keepFailure(file, e);
        throw e;
      }
    });
  }
});

test('key and value found by dotted path inside structs, beside extra columns of other types, in an arrow-rs file', { timeout: TEST_TIMEOUT_MS }, async () => {
  const file = path.join(freshDir('nested'), 'nested.parquet');
  const n = 3000;
  const exp = NOW + HOUR;
  // s: struct<k: utf8 REQUIRED, v: binary, ttl: timestamp[us, UTC]>, NULL
  // in every 17th row; deep: struct<inner: struct<key: utf8, value: utf8>>.
  const sk = [];
  const sv = [];
  const sttl = [];
  const sNull = [];
  for (let i = 0; i < n; i++) {
    sNull.push(i % 17 === 5);
    sk.push(Buffer.from(`s${i}`));
    sv.push(i % 10 === 3 ? null : Buffer.from(`sv${i}`.repeat(1 + (i % 4))));
    sttl.push(i % 2 === 0 ? BigInt(exp + i) * 1000n + 999n : null);
  }
  const sFields = [
    new arrow.Field('k', new arrow.Utf8(), false),
    new arrow.Field('v', new arrow.Binary(), true),
    new arrow.Field('ttl', new arrow.TimestampMicrosecond('UTC'), true),
  ];
  const sValid = validity(sNull.map((isNull) => (isNull ? null : 1)));
  const sData = arrow.makeData({
    type: new arrow.Struct(sFields), length: n, ...sValid,
    children: [bytesData(new arrow.Utf8(), sk), bytesData(new arrow.Binary(), sv), int64Data(new arrow.TimestampMicrosecond('UTC'), sttl)],
  });
  const innerFields = [new arrow.Field('key', new arrow.Utf8(), false), new arrow.Field('value', new arrow.Utf8(), false)];
  const inner = arrow.makeData({
    type: new arrow.Struct(innerFields), length: n, nullCount: 0,
    children: [
      bytesData(new arrow.Utf8(), Array.from({ length: n }, (_, i) => Buffer.from(`deep-${i}`))),
      bytesData(new arrow.Utf8(), Array.from({ length: n }, (_, i) => Buffer.from(`dv-${i % 3}`))),
    ],
  });
  const deepFields = [new arrow.Field('inner', new arrow.Struct(innerFields), false)];
  const deep = arrow.makeData({ type: new arrow.Struct(deepFields), length: n, nullCount: 0, children: [inner] });
  const table = makeTable([
    [new arrow.Field('id', new arrow.Int64(), false), int64Data(new arrow.Int64(), Array.from({ length: n }, (_, i) => i))],
    [new arrow.Field('score', new arrow.Float64(), true), arrow.makeData({ type: new arrow.Float64(), length: n, data: Float64Array.from({ length: n }, (_, i) => i / 3), nullCount: 0 })],
    [new arrow.Field('s', new arrow.Struct(sFields), true), sData],
    [new arrow.Field('name', new arrow.Utf8(), true), bytesData(new arrow.Utf8(), Array.from({ length: n }, (_, i) => (i % 5 ? Buffer.from(`n${i}`) : null)))],
    [new arrow.Field('deep', new arrow.Struct(deepFields), false), deep],
  ]);
  writeWithArrowRs(file, table, new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.ZSTD).setWriterVersion(pw.WriterVersion.V2)
    .setDataPageSizeLimit(512).setDictionaryPageSizeLimit(1024).setWriteBatchSize(50));
  try {
    const info = await inspect(file);
    assert.match(info.text, /^ +"s": group \(3 children\) OPTIONAL\n +"k": BYTE_ARRAY REQUIRED/m, info.text);
    assert.match(info.text, /^ +"inner": group \(2 children\) REQUIRED$/m, info.text);
    assert.deepEqual(info.chunks.map((ch) => ch.name), ['id', 'score', 's.k', 's.v', 's.ttl', 'name', 'deep.inner.key', 'deep.inner.value']);
    for (const ch of info.chunks.filter((x) => x.name.startsWith('s.'))) {
      assert.ok(ch.encodings.includes('RLE_DICTIONARY') && ch.encodings.some((e) => e.startsWith('DELTA_')), `${ch.name}: ${ch.encodings}`);
    }
    const want = sk.map((k, i) => ({
      key: sNull[i] ? null : k,
      value: sNull[i] ? null : sv[i],
      exp: sNull[i] || sttl[i] === null ? null : Number(sttl[i] / 1000n),
    }));
    await assertCat(file, want, 's.k/s.v/s.ttl', '--key-column', 's.k', '--value-column', 's.v', '--ttl-column', 's.ttl');
    const wantDeep = Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`deep-${i}`), value: Buffer.from(`dv-${i % 3}`), exp: null }));
    await assertCat(file, wantDeep, 'deep.inner.key/value', '--key-column', 'deep.inner.key', '--value-column', 'deep.inner.value');
    // A leaf name alone finds the only leaf of that name; top-level
    // columns mix with struct members.
    const wantMixed = Array.from({ length: n }, (_, i) => ({ key: i % 5 ? Buffer.from(`n${i}`) : null, value: Buffer.from(`dv-${i % 3}`), exp: null }));
    await assertCat(file, wantMixed, 'name/inner value', '--key-column', 'name', '--value-column', 'deep.inner.value', '--limit', String(n));

    const dataDir = path.join(freshDir('nested-load'), 'data');
    const res = await tool('load', file, '--data-dir', dataDir, '--key-column', 's.k', '--value-column', 's.v', '--ttl-column', 's.ttl');
    assert.match(res, new RegExp(`^written:\\s+${liveRows(want, Date.now()).length}$`, 'm'), res);
    const server = await startLoadedServer(dataDir);
    try {
      await checkServer(server.port, liveRows(want, Date.now()));
    } finally {
      assert.equal(await stopServer(server), 0, `server on the loaded dir; log:\n${server.log()}`);
    }

    // Not a byte array: refused with the column's name.
    const r = await runTool(['cat', file, '--key-column', 'id', '--value-column', 's.v']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /id/);
  } catch (e) {
    await keepFailure(file, e);
    throw e;
  }
});

// ---- minidb writes, arrow-rs reads ----

// The rows of an Arrow table read back from a snapshot, by hex key.
function arrowRows(table) {
  const out = new Map();
  const key = table.getChild('key');
  const value = table.getChild('value');
  const exp = table.getChild('expires_at');
  const bytes = (v) => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  for (let i = 0; i < table.numRows; i++) {
    const k = bytes(key.get(i));
    const e = exp.get(i);
    assert.ok(!out.has(k.toString('hex')), `key ${quoted(k)} twice in the snapshot`);
    out.set(k.toString('hex'), { key: k, value: bytes(value.get(i)), exp: e === null ? null : Number(e) });
  }
  return out;
}

function assertSameRows(got, want, what) {
  assert.equal(got.size, want.length, `${what}: rows`);
  for (const w of want) {
    const g = got.get(w.key.toString('hex'));
    assert.ok(g, `${what}: key ${quoted(w.key)} missing`);
    assert.ok(g.value.equals(w.value), `${what}: value of ${quoted(w.key)}: ${quoted(g.value)} != ${quoted(w.value)}`);
    assert.equal(g.exp, w.exp, `${what}: expiry of ${quoted(w.key)}`);
  }
}

test('arrow-rs reads the snapshots minidb-parquet load writes with every codec: same rows, types and minidb.seq', { timeout: TEST_TIMEOUT_MS }, async () => {
  const shape = { binary: true, nullable: true, unit: 'us' };
  const { rows, table } = sourceTable(shape);
  const input = path.join(freshDir('in'), 'in.parquet');
  writeWithArrowRs(input, table, writerProps({ ...cases().find((c) => c.codec === 'zstd' && c.version === 2 && c.mode === 'dict'), ...shape }));
  for (const codec of ['zstd', 'snappy', 'gzip', 'brotli', 'lz4_raw', 'none']) {
    const dataDir = path.join(freshDir(`snap-${codec}`), 'data');
    const out = await tool('load', input, '--data-dir', dataDir, '--compression', codec);
    const snap = path.join(dataDir, 'snapshot-00000000000000000000.parquet');
    assert.ok(fs.existsSync(snap), `no snapshot after load:\n${out}`);
    const got = readWithArrowRs(snap);
    const kept = liveRows(rows, Date.now());
    assertSameRows(arrowRows(got), kept, codec);
    const types = Object.fromEntries(got.schema.fields.map((f) => [f.name, `${f.type}${f.nullable ? '' : ' not null'}`]));
    assert.deepEqual(types, {
      key: 'Utf8 not null', value: 'Binary not null', expires_at: 'Timestamp<MILLISECOND, UTC>',
    }, codec);
    assert.equal(got.schema.metadata.get('minidb.seq'), '0', `${codec}: minidb.seq in the schema metadata`);
  }
});

test('arrow-rs reads exactly the keys of a snapshot the server wrote on SAVE, binary keys included', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dataDir = freshDir('save');
  const server = await startLoadedServer(dataDir);
  const want = [];
  try {
    const c = await Resp.connect(server.port);
    try {
      const pending = [];
      for (let i = 0; i < 3000; i++) {
        const key = Buffer.from(`save:${i}`);
        const value = Buffer.from(i % 10 === 0 ? '' : `value ${i} ✓`.repeat(1 + (i % 3)));
        const exp = i % 3 === 0 ? NOW + HOUR + i : null;
        pending.push(exp === null ? c.cmd('SET', key, value) : c.cmd('SET', key, value, 'PXAT', exp));
        want.push({ key, value, exp });
      }
      const bin = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]);
      const binValue = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      pending.push(c.cmd('SET', bin, binValue, 'PXAT', NOW + 2 * HOUR));
      want.push({ key: bin, value: binValue, exp: NOW + 2 * HOUR });
      await Promise.all(pending);
      const reply = await c.send('SAVE');
      if (reply instanceof RespError && /unknown command/i.test(reply.message)) {
        t.skip(`the server does not have SAVE yet (${reply.message})`);
        return;
      }
      assert.equal(reply, 'OK', `SAVE: ${reply}`);
    } finally {
      c.close();
    }
    const snaps = fs.readdirSync(dataDir).filter((f) => /^snapshot-\d{20}\.parquet$/.test(f));
    assert.equal(snaps.length, 1, `snapshots in the data dir: ${fs.readdirSync(dataDir)}`);
    const got = readWithArrowRs(path.join(dataDir, snaps[0]));
    assertSameRows(arrowRows(got), want, 'SAVE');
    assert.equal(String(got.schema.fields[0].type), 'Binary', 'a binary key makes the key column binary');
  } finally {
    assert.equal(await stopServer(server), 0, `server exit status; log:\n${server.log()}`);
  }
});
