'use strict';
// minidb-server.js - what the interop tests share: a temp root removed at
// exit, a watchdog that ends the whole run, bounded waits, and starting and
// stopping the real server. A server starts with --log-format json and the
// port it listens on is read from its "listening" log line (so --port 0
// works, as in the C harness); it runs under `setpriv --pdeathsig KILL` when
// setpriv is there, and any still running at exit is killed, so none
// outlives a killed test. Plain CommonJS over node's own modules: each test
// requires it by relative path without a package of its own. Beside it:
// resp-client.js (a RESP client over node:net) and parquet-tool.js
// (minidb-parquet runs, its cat format, server keyspace checks).

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Every wait is scaled by MINIDB_TEST_TIMEOUT_MULTIPLIER for slow machines.
const MULT = Math.max(1, Number(process.env.MINIDB_TEST_TIMEOUT_MULTIPLIER) || 1);

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Resolves with promise's value, or rejects after ms with what was awaited.
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The exit status of a child from node's (code, signal) pair.
function exitStatus(code, signal) {
  return code !== null ? code : 128 + (os.constants.signals[signal] || 0);
}

// Sets up a test run named name (messages say "interop/<name>: ..."):
// creates the temp root, arms the watchdog (watchdogMs, already scaled) and
// checks that the server binary bin exists. Returns { tmpRoot, fatal(msg),
// freshDir(prefix), startServer({ port, dataDir }), stopServer(server) }.
function setup({ name, bin, watchdogMs, startTimeoutMs, stopTimeoutMs }) {
  const tmpRoot = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), `minidb-${name}-`));
  const live = new Set(); // server processes not yet reaped

  function fatal(msg) {
    console.error(`interop/${name}: ${msg}`);
    process.exitCode = 1;
    process.exit(1);
  }

  process.on('exit', () => {
    for (const p of live) {
      try {
        p.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    fs.rmSync(tmpRoot, { recursive: true, force: true });
  });
  setTimeout(() => fatal(`watchdog: still running after ${watchdogMs} ms`), watchdogMs).unref();

  if (!fs.existsSync(bin)) fatal(`server binary ${bin} not found (set MINIDB_BIN)`);

  // A new directory under tmpRoot named after prefix and a sequence number.
  let dirSeq = 0;
  function freshDir(prefix) {
    return fs.mkdtempSync(path.join(tmpRoot, `${prefix}-${dirSeq++}-`));
  }

  const hasSetpriv = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0;

  // Starts the server on port (default 0: any) and dataDir (default a fresh
  // dir under tmpRoot), with extra flags in args. Resolves with { proc,
  // port, tlsPort, exited, log() } once it logged "listening" (and, with
  // wantTls, also the --tls-port listener's line, "listener":"tls");
  // rejects with its log when it exits first or takes longer
  // than startTimeoutMs.
  function startServer({ port = 0, dataDir, args: extra = [], wantTls = false } = {}) {
    const dir = dataDir || fs.mkdtempSync(path.join(tmpRoot, 'data-'));
    // --http-port 0: no metrics endpoint on its fixed default port (tests run in parallel).
    const args = ['--port', String(port), '--data-dir', dir, '--log-format', 'json', '--http-port', '0', ...extra];
    const proc = hasSetpriv
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let log = '';
    const keep = (chunk) => {
      log += chunk.toString();
      if (log.length > 1 << 20) log = log.slice(-(1 << 19)); // keep the tail
    };
    proc.stdout.on('data', keep);
    const exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        resolve(exitStatus(code, signal));
      });
    });
    const server = { proc, port: 0, tlsPort: 0, exited, log: () => log };
    return new Promise((resolve, reject) => {
      let pending = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`server did not log "listening" within ${startTimeoutMs} ms; log:\n${log}`));
      }, startTimeoutMs);
      proc.stderr.on('data', (chunk) => {
        keep(chunk);
        if (server.port && (!wantTls || server.tlsPort)) return;
        pending += chunk.toString();
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          let rec;
          try {
            rec = JSON.parse(line);
          } catch {
            continue;
          }
          if (rec.msg !== 'listening' || rec.component !== 'server' || !(rec.port > 0)) continue;
          // The --tls-port listener says "listener":"tls"; the client port's
          // line has no listener field (and "tls":true under --tls).
          if (rec.listener === 'tls' && !server.tlsPort) server.tlsPort = rec.port;
          else if (rec.listener !== 'tls' && !server.port) server.port = rec.port;
          if (server.port && (!wantTls || server.tlsPort)) {
            clearTimeout(timer);
            resolve(server);
            return;
          }
        }
      });
      exited.then((status) => {
        clearTimeout(timer);
        reject(new Error(`server exited with status ${status} before listening; log:\n${log}`));
      });
    });
  }

  // SIGTERM, then a wait of at most stopTimeoutMs, then SIGKILL. Resolves
  // with the exit status (-1 when it had to be killed).
  async function stopServer(server) {
    server.proc.kill('SIGTERM');
    try {
      return await within(stopTimeoutMs, 'server exit after SIGTERM', server.exited);
    } catch {
      server.proc.kill('SIGKILL');
      await server.exited;
      return -1;
    }
  }

  return { tmpRoot, fatal, freshDir, startServer, stopServer };
}

module.exports = { MULT, sleep, within, exitStatus, setup };
