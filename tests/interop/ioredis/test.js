'use strict';
// test.js - the ioredis client (Node.js) against a real minidb: pipelines,
// multi-key and expiry commands, scanStream, binary values as Buffers,
// error replies as ReplyError, and reconnection to a server restarted on
// the same port.
//
// Run by CTest as interop/ioredis (node test.js, MINIDB_BIN set to the
// server binary); by hand: MINIDB_BIN=build/minidb node tests/interop/ioredis/test.js.
// The test starts its own server with --port 0 and reads the port from the
// server's JSON "listening" log line, as the C harness does (../lib/minidb-server.js). Every wait is
// bounded (scaled by MINIDB_TEST_TIMEOUT_MULTIPLIER), a watchdog ends the
// whole run, and servers are started under `setpriv --pdeathsig KILL` when
// available so none outlives a killed test. Exit status: 0 when every test
// passed, 1 otherwise (node:test's report says which and why).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const Redis = require('ioredis');
const fs = require('node:fs');
const { spawnSync } = require('node:child_process');
const { MULT, sleep, within, setup } = require('../lib/minidb-server.js');

const BIN = process.env.MINIDB_BIN || path.resolve(__dirname, '../../../build/minidb');
const START_TIMEOUT_MS = 10000 * MULT;
const STOP_TIMEOUT_MS = 10000 * MULT;
const TEST_TIMEOUT_MS = 30000 * MULT;
const WATCHDOG_MS = 110000 * MULT;

const { startServer, stopServer, freshDir } = setup({
  name: 'ioredis',
  bin: BIN,
  watchdogMs: WATCHDOG_MS,
  startTimeoutMs: START_TIMEOUT_MS,
  stopTimeoutMs: STOP_TIMEOUT_MS,
});

let server;
let redis;
let reconnects = 0;

before(async () => {
  server = await startServer();
  redis = new Redis({
    host: '127.0.0.1',
    port: server.port,
    connectTimeout: 5000 * MULT,
    maxRetriesPerRequest: 100,
    // Retry fast and forever: the restart test stops the server for a while.
    retryStrategy: (times) => Math.min(times * 50, 500),
  });
  redis.on('reconnecting', () => reconnects++);
  redis.on('error', () => {}); // connection errors while the server restarts
  assert.equal(await within(START_TIMEOUT_MS, 'first PING', redis.ping()), 'PONG');
});

after(async () => {
  if (redis) redis.disconnect();
  if (server) await stopServer(server);
});

test('the client passed its ready check (INFO) and CLIENT SETINFO did not break the connection', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(redis.status, 'ready');
  const info = await redis.info('server');
  assert.match(info, /^# Server\r\n/);
  assert.match(info, /\r\nredis_version:[0-9.]+\r\n/);
  assert.equal(await redis.client('SETNAME', 'ioredis-test'), 'OK');
  assert.equal(await redis.client('GETNAME'), 'ioredis-test');
  assert.deepEqual(await redis.config('GET', 'maxmemory'), ['maxmemory', '0']);
  const [sec, usec] = await redis.time();
  assert.ok(Math.abs(Number(sec) - Date.now() / 1000) < 5, `TIME ${sec}`);
  assert.ok(Number(usec) >= 0 && Number(usec) < 1e6, `TIME usec ${usec}`);
  assert.equal(await redis.echo('hello'), 'hello');
  // ioredis names itself with CLIENT SETINFO before its ready check.
  assert.match(await redis.client('INFO'), /^id=\d+ .* lib-name=ioredis lib-ver=5\.\d+\.\d+/);
});

test('pipeline replies come back in order, an error in its place', { timeout: TEST_TIMEOUT_MS }, async () => {
  const res = await redis
    .pipeline()
    .set('p:k', 'v')
    .get('p:k')
    .incr('p:n')
    .incrby('p:n', 41)
    .get('p:missing')
    .mset('p:a', '1', 'p:b', '2')
    .mget('p:a', 'p:missing', 'p:b')
    .incr('p:k')
    .incrbyfloat('p:f', '1.5')
    .append('p:k', 'w')
    .del('p:a', 'p:b', 'p:missing')
    .exists('p:a', 'p:k')
    .exec();
  assert.equal(res.length, 12);
  const values = res.map(([err, v]) => (err ? err : v));
  assert.deepEqual(values.slice(0, 7), ['OK', 'v', 1, 42, null, 'OK', ['1', null, '2']]);
  assert.ok(values[7] instanceof Redis.ReplyError, `INCR on a string: ${values[7]}`);
  assert.match(values[7].message, /^ERR value is not an integer or out of range/);
  assert.deepEqual(values.slice(8), ['1.5', 2, 2, 1]);
  assert.equal(await redis.get('p:k'), 'vw');
});

test('10,000 pipelined SETs and 10,000 concurrent INCRs each get their own reply', { timeout: TEST_TIMEOUT_MS }, async () => {
  const p = redis.pipeline();
  for (let i = 0; i < 10000; i++) p.set(`bulk:${i}`, `value-${i}`);
  const res = await p.exec();
  assert.equal(res.length, 10000);
  assert.ok(res.every(([err, v]) => err === null && v === 'OK'));
  assert.equal(await redis.get('bulk:9999'), 'value-9999');

  const all = await Promise.all(Array.from({ length: 10000 }, () => redis.incr('bulk:counter')));
  assert.deepEqual(
    all.slice().sort((a, b) => a - b),
    Array.from({ length: 10000 }, (_, i) => i + 1),
  );
  assert.equal(await redis.get('bulk:counter'), '10000');
});

test('mset, mget, msetnx, expire, ttl, persist and SET options', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await redis.mset({ 'm:a': '1', 'm:b': '2' }), 'OK');
  assert.deepEqual(await redis.mget('m:a', 'm:b', 'm:missing'), ['1', '2', null]);
  assert.equal(await redis.msetnx('m:a', 'x', 'm:c', 'y'), 0);
  assert.equal(await redis.msetnx('m:c', 'y', 'm:d', 'z'), 1);

  assert.equal(await redis.ttl('m:missing'), -2);
  assert.equal(await redis.ttl('m:a'), -1);
  assert.equal(await redis.expire('m:a', 100), 1);
  const ttl = await redis.ttl('m:a');
  assert.ok(ttl >= 99 && ttl <= 100, `TTL ${ttl}`);
  assert.equal(await redis.pexpire('m:a', 50000), 1);
  const pttl = await redis.pttl('m:a');
  assert.ok(pttl > 45000 && pttl <= 50000, `PTTL ${pttl}`);
  assert.equal(await redis.persist('m:a'), 1);
  assert.equal(await redis.ttl('m:a'), -1);
  assert.equal(await redis.expire('m:missing', 10), 0);

  assert.equal(await redis.set('m:e', 'v', 'EX', 100, 'NX'), 'OK');
  assert.equal(await redis.set('m:e', 'w', 'EX', 100, 'NX'), null);
  assert.equal(await redis.set('m:e', 'w', 'KEEPTTL', 'GET'), 'v');
  const kept = await redis.ttl('m:e');
  assert.ok(kept >= 99 && kept <= 100, `TTL after KEEPTTL ${kept}`);
  assert.equal(await redis.setex('m:x', 100, 'v'), 'OK');
  assert.equal(await redis.getex('m:x', 'PERSIST'), 'v');
  assert.equal(await redis.ttl('m:x'), -1);
  const at = Math.floor(Date.now() / 1000) + 1000;
  assert.equal(await redis.expireat('m:x', at), 1);
  assert.equal(await redis.call('EXPIRETIME', 'm:x'), at);
  assert.equal(await redis.getdel('m:x'), 'v');
  assert.equal(await redis.exists('m:x'), 0);

  assert.equal(await redis.set('m:short', 'v', 'PX', 100), 'OK');
  await sleep(300);
  assert.equal(await redis.get('m:short'), null);
});

test('scanStream visits each of 5,000 keys exactly once', { timeout: TEST_TIMEOUT_MS }, async () => {
  const want = [];
  const p = redis.pipeline();
  for (let i = 0; i < 5000; i++) {
    want.push(`scan:${i}`);
    p.set(`scan:${i}`, 'x');
  }
  await p.exec();

  const seen = [];
  await within(
    TEST_TIMEOUT_MS,
    'scanStream',
    new Promise((resolve, reject) => {
      const stream = redis.scanStream({ match: 'scan:*', count: 100 });
      stream.on('data', (keys) => seen.push(...keys));
      stream.on('end', resolve);
      stream.on('error', reject);
    }),
  );
  const dups = seen.length - new Set(seen).size;
  assert.equal(dups, 0, `${dups} keys were returned more than once`);
  assert.deepEqual(seen.slice().sort(), want.slice().sort());

  // KEYS with a pattern: scan:1, scan:10..19, scan:100..199, scan:1000..1999.
  assert.equal((await redis.keys('scan:1*')).length, 1111);
  assert.ok((await redis.dbsize()) >= 5000);
});

test('binary keys and values round-trip as Buffers', { timeout: TEST_TIMEOUT_MS }, async () => {
  const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const key = Buffer.from([0x62, 0x00, 0x0d, 0x0a, 0xff]); // "b\0\r\n\xff"
  assert.equal(await redis.set(key, every), 'OK');
  assert.deepEqual(await redis.getBuffer(key), every);
  assert.equal(await redis.strlen(key), 256);
  assert.deepEqual(await redis.getrangeBuffer(key, 250, -1), every.subarray(250));
  assert.equal(await redis.append(key, Buffer.from([0x00, 0xfe])), 258);
  assert.deepEqual(await redis.getBuffer(key), Buffer.concat([every, Buffer.from([0x00, 0xfe])]));

  assert.equal(await redis.set('bin:empty', Buffer.alloc(0)), 'OK');
  assert.deepEqual(await redis.getBuffer('bin:empty'), Buffer.alloc(0));
  assert.equal(await redis.exists('bin:empty'), 1);

  const big = crypto.randomBytes(1 << 20);
  assert.equal(await redis.set('bin:big', big), 'OK');
  assert.ok((await redis.getBuffer('bin:big')).equals(big), '1 MiB value differs');
  assert.deepEqual(await redis.mgetBuffer('bin:empty', 'bin:missing'), [Buffer.alloc(0), null]);
});

test('error replies reject with ReplyError and the connection stays usable', { timeout: TEST_TIMEOUT_MS }, async () => {
  await redis.set('e:str', 'abc');
  const replyError = (re) => (err) => {
    assert.ok(err instanceof Redis.ReplyError, `not a ReplyError: ${err && err.stack}`);
    assert.match(err.message, re);
    return true;
  };
  await assert.rejects(redis.incr('e:str'), replyError(/^ERR value is not an integer or out of range$/));
  await assert.rejects(redis.incrbyfloat('e:str', 1), replyError(/^ERR value is not a valid float$/));
  await assert.rejects(redis.call('NOSUCHCOMMAND', 'x'), replyError(/^ERR unknown command 'NOSUCHCOMMAND'/));
  await assert.rejects(redis.call('GET'), replyError(/^ERR wrong number of arguments for 'get' command$/));
  await assert.rejects(redis.call('SET', 'e:k', 'v', 'EX'), replyError(/^ERR syntax error$/));
  await assert.rejects(redis.call('SET', 'e:k', 'v', 'EX', '0'), replyError(/^ERR invalid expire time in 'set' command$/));
  await assert.rejects(redis.rename('e:missing', 'e:other'), replyError(/^ERR no such key$/));
  assert.equal(await redis.get('e:str'), 'abc');
  assert.equal(await redis.ping(), 'PONG');
});

test('the client reconnects to a server restarted on the same port', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await redis.set('r:k', 'before'), 'OK');
  const port = server.port;
  const before = reconnects;
  const closed = new Promise((resolve) => redis.once('close', resolve));
  assert.equal(await stopServer(server), 0, `server exit status on SIGTERM; log:\n${server.log()}`);
  await within(STOP_TIMEOUT_MS, 'the client noticing the close', closed);

  // Sent while no server listens: ioredis queues it until it reconnects.
  const queued = redis.set('r:during', 'queued');
  queued.catch(() => {}); // awaited below; keep an early rejection from being unhandled
  await sleep(300);
  server = await startServer({ port });
  assert.equal(server.port, port);

  assert.equal(await within(TEST_TIMEOUT_MS, 'the queued SET', queued), 'OK');
  assert.equal(await within(TEST_TIMEOUT_MS, 'PING after restart', redis.ping()), 'PONG');
  assert.ok(reconnects > before, 'no reconnecting event');
  assert.equal(redis.status, 'ready');
  // A new server with a fresh data dir: only what was sent after the restart.
  assert.equal(await redis.get('r:k'), null);
  assert.equal(await redis.get('r:during'), 'queued');
  assert.equal(await redis.incr('r:n'), 1);
});

// ---- authentication and TLS, each against a server of its own ----

function sha256Line(token) {
  return `sha256$${crypto.createHash('sha256').update(token).digest('hex')}`;
}

// A config file with auth on and three named tokens.
function authConfig(dir) {
  const file = path.join(dir, 'minidb.yaml');
  fs.writeFileSync(
    file,
    [
      'security:',
      '  auth_enabled: true',
      '  tokens:',
      `    - {name: app, hash: "${sha256Line('app-token')}", permissions: "read,write"}`,
      `    - {name: reports, hash: "${sha256Line('reports-token')}", permissions: read}`,
      '',
    ].join('\n'),
  );
  return file;
}

function client(opts) {
  const c = new Redis({
    host: '127.0.0.1',
    connectTimeout: 5000 * MULT,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null, // no reconnection: a refusal must surface
    lazyConnect: true,
    ...opts,
  });
  c.on('error', () => {});
  return c;
}

async function refusedWith(opts, re) {
  const errors = [];
  const c = client(opts);
  c.on('error', (e) => errors.push(e.message));
  await assert.rejects(c.connect());
  c.disconnect();
  assert.ok(errors.some((m) => re.test(m)), `errors seen: ${JSON.stringify(errors)}`);
}

test('ioredis authenticates with password, and with username and password, as Redis clients do', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = freshDir('auth');
  const srv = await startServer({ args: ['--config', authConfig(dir)] });
  try {
    // No ready check: its INFO would be refused before any command is sent.
    const anon = client({ port: srv.port, enableReadyCheck: false });
    await anon.connect();
    await assert.rejects(anon.get('k'), /NOAUTH Authentication required/);
    anon.disconnect();

    // A refused AUTH reaches the application as an 'error' event; the
    // connect promise then fails as the connection closes.
    await refusedWith({ port: srv.port, password: 'wrong' }, /^WRONGPASS invalid username-password pair/);

    const app = client({ port: srv.port, password: 'app-token' });
    await app.connect();
    assert.equal(await app.set('a:k', 'v'), 'OK');
    assert.equal(await app.get('a:k'), 'v');
    await assert.rejects(app.flushall(), /NOPERM this token \('app'\) may not run 'flushall': it needs the admin permission/);
    app.disconnect();

    const reports = client({ port: srv.port, username: 'reports', password: 'reports-token' });
    await reports.connect();
    assert.equal(await reports.get('a:k'), 'v');
    await assert.rejects(reports.set('a:k', 'x'), /NOPERM/);
    assert.equal(await reports.get('a:k'), 'v');
    reports.disconnect();

    await refusedWith({ port: srv.port, username: 'reports', password: 'app-token' }, /^WRONGPASS/);
  } finally {
    assert.equal(await stopServer(srv), 0);
  }
});

// A throwaway CA and a server certificate for 127.0.0.1 and localhost,
// made with the openssl command.
function makeCerts(dir) {
  const run = (args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=interop CA']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  return { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
}

test('ioredis over TLS verifies the certificate, authenticates and round-trips, beside a plaintext port', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = freshDir('tls');
  const certs = makeCerts(dir);
  const srv = await startServer({
    wantTls: true,
    args: ['--config', authConfig(dir), '--tls-port', '0', '--tls-cert-file', certs.cert, '--tls-key-file', certs.key],
  });
  try {
    const secure = client({ port: srv.tlsPort, password: 'app-token', tls: { ca: fs.readFileSync(certs.ca), servername: 'localhost' } });
    await secure.connect();
    const big = crypto.randomBytes(300000);
    assert.equal(await secure.set('t:big', big), 'OK');
    assert.ok((await secure.getBuffer('t:big')).equals(big));
    const pipe = secure.pipeline();
    for (let i = 0; i < 1000; i++) pipe.incr('t:n');
    const res = await pipe.exec();
    assert.equal(res[999][1], 1000);
    secure.disconnect();

    // The same key through the plaintext port: one keyspace.
    const plain = client({ port: srv.port, password: 'app-token' });
    await plain.connect();
    assert.equal(await plain.get('t:n'), '1000');
    plain.disconnect();

    // Without the CA the client refuses the server's certificate.
    await refusedWith({ port: srv.tlsPort, password: 'app-token', tls: { servername: 'localhost' } }, /self[- ]signed|unable to (get|verify)|certificate/i);
  } finally {
    assert.equal(await stopServer(srv), 0);
  }
});

test('the server stops with status 0 on SIGTERM after QUIT', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(await redis.quit(), 'OK');
  const status = await stopServer(server);
  assert.equal(status, 0, `server exit status; log:\n${server.log()}`);
  server = null;
  redis = null;
});
