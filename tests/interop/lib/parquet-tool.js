'use strict';
// parquet-tool.js - what the interop tests that drive minidb-parquet share:
// running the tool with a bound on its run time, the line format of
// `minidb-parquet cat` (so a test can build the exact output it expects
// from rows), and checking that a server holds exactly the rows an import
// or load keeps. Rows are { key, value, exp }: key and value Buffers (or
// null), exp Unix ms (or null). Plain CommonJS over node's own modules,
// required by relative path.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { exitStatus } = require('./minidb-server.js');
const { Resp } = require('./resp-client.js');

// The tool at bin, each run killed after timeoutMs. Calls fatal(msg) (from
// minidb-server.js's setup) when bin does not exist. Returns
// { runTool(args), tool(...args) }.
function parquetTool({ bin, timeoutMs, fatal }) {
  if (!fs.existsSync(bin)) fatal(`tool ${bin} not found (set MINIDB_PARQUET)`);

  // Runs minidb-parquet with args. Resolves with { status, stdout (Buffer),
  // stderr (string) }; a run past timeoutMs is killed and rejects.
  function runTool(args) {
    return new Promise((resolve, reject) => {
      const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = [];
      let err = '';
      proc.stdout.on('data', (c) => out.push(c));
      proc.stderr.on('data', (c) => {
        err += c.toString();
      });
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`minidb-parquet ${args.join(' ')}: still running after ${timeoutMs} ms`));
      }, timeoutMs);
      proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ status: exitStatus(code, signal), stdout: Buffer.concat(out), stderr: err });
      });
    });
  }

  // runTool that must succeed; returns stdout as a string.
  async function tool(...args) {
    const r = await runTool(args);
    assert.equal(r.status, 0, `minidb-parquet ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout.toString();
  }

  return { runTool, tool };
}

// ---- what minidb-parquet cat prints ----

// Length of the valid UTF-8 sequence at b[i] (2-4), 0 when there is none:
// the tool prints such sequences as they are and every other high byte as
// \xHH.
function utf8SeqLen(b, i) {
  const c = b[i];
  let len;
  let cp;
  if (c >= 0xc2 && c <= 0xdf) [len, cp] = [2, c & 0x1f];
  else if (c >= 0xe0 && c <= 0xef) [len, cp] = [3, c & 0x0f];
  else if (c >= 0xf0 && c <= 0xf4) [len, cp] = [4, c & 0x07];
  else return 0;
  if (b.length - i < len) return 0;
  for (let k = 1; k < len; k++) {
    if ((b[i + k] & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (b[i + k] & 0x3f);
  }
  if ((len === 3 && cp < 0x800) || (len === 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return len;
}

// b (a Buffer, or null) as cat prints it: quoted and escaped, or (nil).
function quoted(b) {
  if (b === null) return Buffer.from('(nil)');
  const out = [0x22];
  const esc = { 0x22: '\\"', 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (esc[c]) {
      out.push(...Buffer.from(esc[c]));
      i++;
    } else if (c >= 0x20 && c < 0x7f) {
      out.push(c);
      i++;
    } else if (c >= 0x80 && utf8SeqLen(b, i)) {
      const n = utf8SeqLen(b, i);
      out.push(...b.subarray(i, i + n));
      i += n;
    } else {
      out.push(...Buffer.from(`\\x${c.toString(16).padStart(2, '0')}`));
      i++;
    }
  }
  out.push(0x22);
  return Buffer.from(out);
}

// The line cat prints for row r, without its newline, as a latin1 string
// (so that comparisons are byte for byte, whatever the UTF-8).
function catLine(r) {
  const parts = [quoted(r.key), Buffer.from(' '), quoted(r.value)];
  if (r.exp !== null) parts.push(Buffer.from(` expires_at=${r.exp}`));
  return Buffer.concat(parts).toString('latin1');
}

// ---- checking a server's keyspace ----

// The rows that end up as keys: non-NULL key and value, not expired.
function liveRows(list, now) {
  return list.filter((r) => r.key !== null && r.value !== null && (r.exp === null || r.exp > now));
}

// Checks that the server on port holds exactly these rows: DBSIZE, every
// value, and every expiry to the millisecond (PEXPIRETIME).
async function checkServer(port, want) {
  const c = await Resp.connect(port);
  try {
    assert.equal(await c.cmd('DBSIZE'), BigInt(want.length), 'DBSIZE');
    // Pipelined in batches: fast, and bounded by the per-reply timeout.
    for (let i = 0; i < want.length; i += 500) {
      const batch = want.slice(i, i + 500);
      const got = await Promise.all(batch.flatMap((r) => [c.cmd('GET', r.key), c.cmd('PEXPIRETIME', r.key)]));
      batch.forEach((r, j) => {
        const v = got[2 * j];
        assert.ok(v !== null && v.equals(r.value), `value of ${quoted(r.key)}: ${v && quoted(v)} != ${quoted(r.value)}`);
        assert.equal(got[2 * j + 1], BigInt(r.exp === null ? -1 : r.exp), `PEXPIRETIME of ${quoted(r.key)}`);
      });
    }
  } finally {
    c.close();
  }
}

module.exports = { parquetTool, utf8SeqLen, quoted, catLine, liveRows, checkServer };
