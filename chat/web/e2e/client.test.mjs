// Unit tests of web/client.js against a fake WebSocket and a fake server:
//   node --test chat/web/e2e/client.test.mjs
// (web/jsclient_test.go runs them.) No browser, no dependencies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SwitchboardClient, SwitchboardError, backoffDelay, idFloor } from '../client.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(cond, what, ms = 3000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

// ULID-like ids that sort by creation: idFloor(ms) with a counter at the end.
let idSeq = 0;
function newId() {
  const n = String(++idSeq).padStart(6, '0');
  return idFloor(Date.now()).slice(0, 20) + n;
}

// FakeServer answers the protocol from memory; connections are FakeSockets.
class FakeServer {
  constructor() {
    this.up = true;
    this.sockets = [];
    this.messages = new Map(); // roomId -> [message] oldest first
    this.requests = [];
    this.silent = new Set(); // actions that get no reply
    this.pageSize = null; // force small history pages
  }
  addMessage(roomId, content, userId = 'bob') {
    const m = { messageId: newId(), roomId, userId, username: userId, content, messageType: 'TEXT', timestamp: new Date().toISOString() };
    if (!this.messages.has(roomId)) this.messages.set(roomId, []);
    this.messages.get(roomId).push(m);
    return m;
  }
  broadcast(frame) {
    for (const s of this.sockets) if (s.readyState === 1) s._deliver(frame);
  }
  dropAll() {
    for (const s of [...this.sockets]) s._serverClose(1001);
  }
  handle(sock, f) {
    this.requests.push(f);
    if (this.silent.has(f.action)) return;
    const ok = (data) => sock._deliver({ type: 'success', data, requestId: f.requestId, timestamp: new Date().toISOString() });
    const fail = (code, error) => sock._deliver({ type: 'error', code, error, requestId: f.requestId, timestamp: new Date().toISOString() });
    const d = f.data || {};
    switch (f.action) {
      case 'joinRoom':
        if (d.roomId === 'gone') return fail('ROOM_NOT_FOUND', 'room not found');
        return ok({ room: { roomId: d.roomId, name: d.roomId }, alreadyJoined: false });
      case 'sendMessage': {
        const m = this.addMessage(d.roomId, d.content, 'me');
        this.broadcast({ type: 'message', roomId: d.roomId, data: m, timestamp: m.timestamp });
        return ok(m);
      }
      case 'getRoomHistory': {
        const all = [...(this.messages.get(d.roomId) || [])].reverse(); // newest first
        const start = d.cursor ? Number(d.cursor) : 0;
        const size = this.pageSize || d.limit || 50;
        const page = all.slice(start, start + size);
        const next = start + size < all.length ? String(start + size) : null;
        return ok({ roomId: d.roomId, messages: page, cursor: next });
      }
      case 'heartbeat':
        if (this.expired) {
          this.expired = false; // the server stored the connection again, without its rooms
          return ok({ expiresAt: new Date(Date.now() + 600000).toISOString(), restored: true, rooms: [] });
        }
        return ok({ expiresAt: new Date(Date.now() + 600000).toISOString() });
      case 'getOnlineUsers':
        // Room "big" is above the server's threshold; old servers say nothing.
        if (d.roomId === 'old') return ok({ users: [{ userId: 'bob', username: 'Bob', connections: 1 }], roomId: d.roomId });
        return ok({ users: [{ userId: 'bob', username: 'Bob', connections: 1 }].slice(0, d.limit || 1), total: 3, ...(d.roomId ? { roomId: d.roomId } : {}), announced: d.roomId !== 'big' });
      case 'boom':
        return fail('INTERNAL_ERROR', 'it broke');
      case 'flood':
        return sock._deliver({ type: 'error', code: 'RATE_LIMITED', error: 'too many requests', retryAfterMs: 250, requestId: f.requestId, timestamp: new Date().toISOString() });
      default:
        return ok({ echo: d });
    }
  }
  WebSocket() {
    const server = this;
    return class FakeSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        setTimeout(() => {
          if (!server.up || (server.downHosts && server.downHosts.has(new URL(url).host))) return this._serverClose(1006);
          server.sockets.push(this);
          this.readyState = 1;
          this.onopen && this.onopen({});
        }, 1);
      }
      send(text) {
        if (this.readyState !== 1) throw new Error('not open');
        const f = JSON.parse(text);
        this.sent.push(f);
        setTimeout(() => server.handle(this, f), 1);
      }
      close(code = 1000, reason = '') {
        this._serverClose(code, reason);
      }
      _deliver(frame) {
        if (this.readyState === 1) this.onmessage && this.onmessage({ data: JSON.stringify(frame) });
      }
      _serverClose(code, reason = '') {
        if (this.readyState === 3) return;
        this.readyState = 3;
        server.sockets = server.sockets.filter((s) => s !== this);
        setTimeout(() => this.onclose && this.onclose({ code, reason }), 1);
      }
    };
  }
}

function newClient(server, extra = {}) {
  let tokens = 0;
  const c = new SwitchboardClient({
    url: 'ws://fake/dev',
    getToken: async () => `tok-${++tokens}`,
    WebSocket: server.WebSocket(),
    requestTimeoutMs: 300,
    minBackoffMs: 5,
    maxBackoffMs: 20,
    heartbeatMs: 0,
    ...extra,
  });
  c.tokens = () => tokens;
  return c;
}

test('backoffDelay is full jitter within the exponential cap', () => {
  for (let attempt = 1; attempt <= 12; attempt++) {
    const cap = Math.min(30000, 250 * 2 ** (attempt - 1));
    assert.equal(backoffDelay(attempt, 250, 30000, () => 0), 0);
    assert.equal(backoffDelay(attempt, 250, 30000, () => 0.999999), cap);
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt, 250, 30000);
      assert.ok(d >= 0 && d <= cap, `attempt ${attempt}: ${d} outside [0, ${cap}]`);
    }
  }
  assert.equal(backoffDelay(1000, 250, 30000, () => 0.999999), 30000);
});

test('idFloor sorts by time and below ids of that millisecond', () => {
  assert.equal(idFloor(0), '00000000000000000000000000');
  assert.ok(idFloor(1000) < idFloor(1001));
  assert.equal(idFloor(Date.UTC(2026, 0, 1)).length, 26);
});

test('lists that are not live: getOnlineUsersReply and broadcasts say announced', async () => {
  const server = new FakeServer();
  const c = newClient(server);
  await c.connect();
  const big = await c.getOnlineUsersReply({ roomId: 'big', limit: 1000 });
  assert.equal(big.announced, false);
  assert.equal(big.roomId, 'big');
  assert.equal(big.total, 3);
  assert.deepEqual(big.users.map((u) => u.userId), ['bob']);
  assert.deepEqual(server.requests.at(-1).data, { roomId: 'big', limit: 1000 });
  assert.equal((await c.getOnlineUsersReply()).announced, true);
  assert.deepEqual(server.requests.at(-1).data, {});
  // A server that does not say is taken as announcing, as before.
  const old = await c.getOnlineUsersReply({ roomId: 'old' });
  assert.equal(old.announced, true);
  assert.equal(old.total, 1);
  assert.deepEqual(await c.getOnlineUsers('big'), big.users);
  const evs = [];
  c.on('message', (ev) => evs.push(ev));
  const m1 = server.addMessage('big', 'quiet');
  server.broadcast({ type: 'message', roomId: 'big', data: m1, announced: false, timestamp: m1.timestamp });
  const m2 = server.addMessage('small', 'live');
  server.broadcast({ type: 'message', roomId: 'small', data: m2, timestamp: m2.timestamp });
  await until(() => evs.length === 2, 'two message events');
  assert.equal(evs[0].announced, false);
  assert.equal('announced' in evs[1], false);
  c.close();
});

test('requests are matched by requestId, errors and timeouts reject', async () => {
  const server = new FakeServer();
  const c = newClient(server);
  const states = [];
  c.on('state', (ev) => states.push(ev.state));
  await c.connect();
  assert.equal(c.state, 'connected');
  assert.equal(c.tokens(), 1);
  const [a, b] = await Promise.all([c.request('echo', { n: 1 }), c.request('echo', { n: 2 })]);
  assert.deepEqual([a.echo.n, b.echo.n], [1, 2]);
  const ids = server.requests.map((r) => r.requestId);
  assert.equal(new Set(ids).size, ids.length, 'request ids are unique');

  await assert.rejects(c.request('boom'), (e) => e instanceof SwitchboardError && e.code === 'INTERNAL_ERROR' && e.message === 'it broke' && e.retryAfterMs === undefined);
  await assert.rejects(c.request('flood'), (e) => e instanceof SwitchboardError && e.code === 'RATE_LIMITED' && e.retryAfterMs === 250);
  server.silent.add('slow');
  await assert.rejects(c.request('slow', {}, { timeoutMs: 50 }), (e) => e.code === 'TIMEOUT');
  c.close();
  assert.equal(c.state, 'closed');
  await assert.rejects(c.request('echo'), (e) => e.code === 'CLOSED');
  assert.deepEqual(states, ['connecting', 'connected', 'closed']);
});

test('pending requests fail with DISCONNECTED when the connection drops', async () => {
  const server = new FakeServer();
  const c = newClient(server);
  await c.connect();
  server.silent.add('slow');
  const p = c.request('slow', {}, { timeoutMs: 2000 });
  await sleep(5);
  server.dropAll();
  await assert.rejects(p, (e) => e.code === 'DISCONNECTED');
  await assert.rejects(c.request('echo'), (e) => e.code === 'DISCONNECTED', 'not connected: fails at once');
  c.close();
});

test('reconnects with a new token, rejoins rooms and delivers missed messages once, in order', async () => {
  const server = new FakeServer();
  server.pageSize = 3; // make resume page through history
  const c = newClient(server);
  const got = [];
  const states = [];
  let resumed = null;
  c.on('message', (ev) => got.push({ id: ev.data.messageId, content: ev.data.content, resumed: ev.resumed }));
  c.on('state', (ev) => states.push(ev.state));
  c.on('resumed', (ev) => (resumed = ev));
  await c.connect();

  server.addMessage('r1', 'old, before the join');
  await sleep(3);
  await c.joinRoom('r1');
  await c.joinRoom('r2');
  const live = server.addMessage('r1', 'live');
  server.broadcast({ type: 'message', roomId: 'r1', data: live });
  await until(() => got.length === 1, 'the live message');

  // The server goes away; meanwhile 7 messages are sent to r1, 2 to r2.
  server.up = false;
  server.dropAll();
  await until(() => c.state === 'reconnecting', 'reconnecting');
  const missed = [];
  for (let i = 1; i <= 7; i++) missed.push(server.addMessage('r1', `missed ${i}`).messageId);
  missed.push(server.addMessage('r2', 'missed in r2').messageId);
  missed.push(server.addMessage('r2', 'missed in r2 again').messageId);
  await sleep(30); // a few failed attempts
  server.up = true;
  await until(() => resumed, 'resumed');

  assert.equal(c.state, 'connected');
  assert.ok(states.includes('reconnecting'));
  assert.ok(c.tokens() >= 2, 'a fresh token for the reconnect');
  const rejoins = server.requests.filter((r) => r.action === 'joinRoom').map((r) => r.data.roomId);
  assert.deepEqual(rejoins.slice(-2).sort(), ['r1', 'r2']);
  assert.equal(resumed.missed, 9);
  const ids = got.map((g) => g.id);
  assert.equal(new Set(ids).size, ids.length, 'no message twice');
  assert.ok(!got.some((g) => g.content === 'old, before the join'), 'history before the join is not news');
  const resumedIds = got.filter((g) => g.resumed).map((g) => g.id);
  assert.deepEqual([...resumedIds].sort(), [...missed].sort());
  const r1 = got.filter((g) => g.resumed && g.content.startsWith('missed ') && !g.content.includes('r2')).map((g) => g.content);
  assert.deepEqual(r1, [1, 2, 3, 4, 5, 6, 7].map((i) => `missed ${i}`), 'oldest first');

  // A broadcast of something resume already delivered is dropped; edits pass.
  const dup = server.messages.get('r1').at(-1);
  server.broadcast({ type: 'message', roomId: 'r1', data: dup });
  server.broadcast({ type: 'message', roomId: 'r1', data: { ...dup, content: 'edited', edited: true } });
  await until(() => got.length === 11, 'the edit');
  await sleep(10);
  assert.equal(got.length, 11);
  assert.equal(got.at(-1).content, 'edited');

  // A second drop: only what is new since the last seen message comes.
  server.dropAll();
  resumed = null;
  await until(() => resumed, 'resumed again');
  assert.equal(resumed.missed, 0);
  c.close();
});

test('a room that cannot be rejoined is reported and forgotten', async () => {
  const server = new FakeServer();
  const c = newClient(server);
  const lost = [];
  c.on('room_lost', (ev) => lost.push(ev.roomId));
  await c.connect();
  await c.joinRoom('r1');
  // Pretend 'gone' was joined, then deleted.
  c._rooms.set('gone', { lastId: '', seen: new Set(), order: [] });
  server.dropAll();
  await until(() => lost.length === 1 && c.state === 'connected', 'room_lost');
  assert.deepEqual(c.rooms, ['r1']);
  c.close();
});

test('waitForConnection holds a request until the client is back', async () => {
  const server = new FakeServer();
  const c = newClient(server);
  await c.connect();
  await c.joinRoom('r1');
  server.up = false;
  server.dropAll();
  await until(() => c.state !== 'connected', 'disconnected');
  const sent = c.sendMessage('r1', 'queued', {}, { waitForConnection: true, timeoutMs: 2000 });
  await sleep(20);
  server.up = true;
  const m = await sent;
  assert.equal(m.content, 'queued');
  // It went out after the room was rejoined.
  const actions = server.requests.map((r) => r.action);
  assert.ok(actions.lastIndexOf('joinRoom') < actions.indexOf('sendMessage'));
  c.close();
});

test('history marks newer messages seen so their broadcast is not delivered twice', async () => {
  const server = new FakeServer();
  const c = newClient(server);
  const got = [];
  c.on('message', (ev) => got.push(ev.data.messageId));
  await c.connect();
  await c.joinRoom('r1');
  await sleep(3);
  const m = server.addMessage('r1', 'raced');
  const page = await c.getRoomHistory({ roomId: 'r1' });
  assert.equal(page.messages.length, 1);
  server.broadcast({ type: 'message', roomId: 'r1', data: m });
  await sleep(10);
  assert.deepEqual(got, []);
  c.close();
});

test('heartbeats are sent, and a silent connection is replaced', async () => {
  const server = new FakeServer();
  const c = newClient(server, { heartbeatMs: 20, requestTimeoutMs: 40 });
  await c.connect();
  await until(() => server.requests.some((r) => r.action === 'heartbeat'), 'a heartbeat');
  server.silent.add('heartbeat');
  const states = [];
  c.on('state', (ev) => states.push(ev.state));
  await until(() => states.includes('reconnecting') && c.state === 'connected', 'a reconnect after a missed heartbeat');
  c.close();
});

test('a heartbeat that finds the connection expired without its rooms makes the client rejoin', async () => {
  const server = new FakeServer();
  const c = newClient(server, { heartbeatMs: 20 });
  await c.connect();
  await c.joinRoom('lobby');
  const joins = () => server.requests.filter((r) => r.action === 'joinRoom' && r.data.roomId === 'lobby').length;
  server.expired = true;
  await until(() => joins() === 2 && c.state === 'connected', 'a rejoin after the expired heartbeat');
  c.close();
});

test('a restored connection that lost no rooms stays as it is', async () => {
  const server = new FakeServer();
  const c = newClient(server, { heartbeatMs: 20 });
  await c.connect();
  const states = [];
  c.on('state', (ev) => states.push(ev.state));
  server.expired = true; // restored, rooms: [] — and this client had joined none
  const beats = () => server.requests.filter((r) => r.action === 'heartbeat').length;
  await until(() => beats() >= 3, 'heartbeats after the restored one');
  assert.deepEqual(states, []);
  c.close();
});

test('with several urls, a dead node is skipped and a drop reconnects to the next one', async () => {
  const server = new FakeServer();
  server.downHosts = new Set(['a']); // node a is down from the start
  const c = newClient(server, { url: undefined, urls: ['ws://a/dev', 'ws://b/dev', 'ws://c/dev'] });
  await c.connect();
  assert.equal(c.url, 'ws://b/dev', 'the first node that answers');
  assert.equal(new URL(server.sockets[0].url).host, 'b');
  await c.joinRoom('r1');
  const before = server.addMessage('r1', 'before');
  c._markSeen(before);
  // Node b dies: its clients are dropped, and it refuses new ones.
  server.downHosts.add('b');
  const missed = server.addMessage('r1', 'while away');
  const got = [];
  c.on('message', (ev) => got.push(ev.data.content));
  server.dropAll();
  await until(() => c.state === 'connected' && got.length === 1, 'reconnected to node c, missed message delivered');
  assert.equal(c.url, 'ws://c/dev');
  assert.equal(new URL(server.sockets[0].url).host, 'c');
  assert.deepEqual(got, [missed.content]);
  c.close();
});

test('url or urls is required', () => {
  assert.throws(() => new SwitchboardClient({ urls: [], WebSocket: class {} }), /url \(or urls\) is required/);
});
