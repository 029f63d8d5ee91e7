'use strict';
// resp-client.js - a tiny RESP2 client over node:net for the interop tests
// that talk to the server without a Redis package (DuckDB, arrow-rs): one
// command at a time or pipelined, Buffers in and out, every connect and
// reply bounded. Also startLoadedServer, which starts a server and waits
// until it has loaded its data dir. Plain CommonJS over node's own modules,
// required by relative path.

const net = require('node:net');
const { MULT, within } = require('./minidb-server.js');

// The bound on a connect or a reply unless the caller gives one.
const REPLY_TIMEOUT_MS = 10000 * MULT;

class RespError extends Error {}

// Parses one RESP2 reply at buf[off...]. Returns [value, nextOffset], or
// null when the reply is not complete yet. Bulk strings are Buffers, errors
// RespError objects, nil null.
function parseReply(buf, off) {
  const nl = buf.indexOf('\r\n', off);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[off]);
  const line = buf.toString('latin1', off + 1, nl);
  const next = nl + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new RespError(line), next];
    case ':':
      return [BigInt(line), next];
    case '$': {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return null;
      return [buf.subarray(next, next + n), next + n + 2];
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const items = [];
      let at = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (r === null) return null;
        items.push(r[0]);
        at = r[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buf.toString('latin1', off, nl))}`);
  }
}

class Resp {
  // Connects to 127.0.0.1:port; timeoutMs bounds the connect and every reply.
  static connect(port, timeoutMs = REPLY_TIMEOUT_MS) {
    return within(timeoutMs, `connect to port ${port}`, new Promise((resolve, reject) => {
      const sock = net.createConnection({ host: '127.0.0.1', port }, () => resolve(new Resp(sock, timeoutMs)));
      sock.once('error', reject);
    }));
  }

  constructor(sock, timeoutMs = REPLY_TIMEOUT_MS) {
    this.sock = sock;
    this.timeoutMs = timeoutMs;
    this.buf = Buffer.alloc(0);
    this.waiting = [];
    sock.on('data', (chunk) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      let off = 0;
      for (;;) {
        const r = parseReply(this.buf, off);
        if (r === null) break;
        off = r[1];
        const w = this.waiting.shift();
        if (w) w.resolve(r[0]);
      }
      this.buf = this.buf.subarray(off);
    });
    const failAll = (e) => {
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    sock.on('error', failAll);
    sock.on('close', () => failAll(new Error('connection closed')));
  }

  // Sends one command (strings or Buffers); resolves with its reply.
  send(...args) {
    const parts = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    const p = new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.sock.write(Buffer.concat(parts));
    return within(this.timeoutMs, `reply to ${args[0]}`, p);
  }

  // Like send, but an error reply rejects.
  async cmd(...args) {
    const r = await this.send(...args);
    if (r instanceof RespError) throw r;
    return r;
  }

  close() {
    this.sock.destroy();
  }
}

// The server listens before it has loaded its data dir and answers
// -LOADING meanwhile (as Redis does): starts it on dataDir with
// harness.startServer (from minidb-server.js's setup) and waits, at most
// timeoutMs, until a PING is answered with PONG. Stops it (harness.stopServer)
// and rejects with its log when it answers anything else or takes longer.
async function startLoadedServer(harness, dataDir, timeoutMs) {
  const server = await harness.startServer({ dataDir });
  const deadline = Date.now() + timeoutMs;
  const c = await Resp.connect(server.port);
  try {
    for (;;) {
      const r = await c.send('PING');
      if (r === 'PONG') return server;
      if (!(r instanceof RespError && /^LOADING/.test(r.message)) || Date.now() > deadline) {
        await harness.stopServer(server);
        throw new Error(`server on ${dataDir} answered PING with ${r}; log:\n${server.log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    c.close();
  }
}

module.exports = { REPLY_TIMEOUT_MS, RespError, parseReply, Resp, startLoadedServer };
