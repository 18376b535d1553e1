// Switchboard chat client for browsers (and any runtime with a WebSocket):
// an ES module with no dependencies. It speaks the protocol of
// docs/protocol.md:
//
//   import { SwitchboardClient } from './client.js';
//   const c = new SwitchboardClient({ url: 'ws://127.0.0.1:8080/dev', getToken: async () => token });
//   c.on('message', (ev) => console.log(ev.roomId, ev.data.content));
//   c.on('state', (ev) => console.log(ev.state));
//   await c.connect();
//   const room = await c.createRoom({ name: 'general' });
//   await c.joinRoom(room.roomId);
//   await c.sendMessage(room.roomId, 'hi');
//
// Requests are matched to replies by requestId and time out; an error reply
// rejects with a SwitchboardError whose code is the server's (NOT_IN_ROOM,
// ...) or one of the client's own: TIMEOUT, DISCONNECTED, CLOSED.
//
// When the connection drops, the client reconnects with exponential backoff
// and full jitter (a random wait between 0 and min(maxBackoffMs,
// minBackoffMs * 2^attempt)), calling getToken again each time. Given the
// addresses of several nodes (urls: the nodes of a cluster,
// docs/cluster.md), every attempt goes to the next address after the one
// that failed or dropped, round robin: the client of a node that died
// reconnects to a live one. Once
// reconnected it rejoins the rooms it had joined and fetches, through
// getRoomHistory paging, the messages sent while it was away; they arrive as
// 'message' events with resumed: true. A message is delivered once, however
// it arrives (broadcast, resume or a race of both): new messages are
// deduplicated by messageId per room. Edits and deletions ('message' events
// whose data has edited or deleted set) are updates and always delivered.
// Because missed messages are fetched after the rejoin, 'message' events can
// arrive out of order after a reconnect: order a room's messages by
// messageId (ids sort by creation time).
//
// Events (on(type, listener); listener gets one object):
//   message, user_joined, user_left, typing, room_update, presence
//       broadcasts: {type, roomId, data, timestamp, resumed, announced?}
//       announced is false (and present only then) when the broadcast says
//       that lists kept from broadcasts are not live: on message and
//       typing, the room's user_joined/user_left are not sent (a room above
//       the server's threshold); on room_update, presence is not (a large
//       tenant). Refresh such lists with getOnlineUsersReply
//       (docs/protocol.md, "Lists that are not live").
//   state    {type:'state', state, previous, attempt, retryInMs}
//            states: idle, connecting, connected, reconnecting, offline, closed
//            ('connected' after a reconnect means: rooms rejoined)
//   resumed  {type:'resumed', rooms, missed} after a reconnect, once the
//            missed messages have been delivered
//   room_lost {type:'room_lost', roomId, error} a room could not be
//            rejoined after a reconnect (deleted, or no longer allowed)
//   *        every event

/** States of a client. */
export const State = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
  OFFLINE: 'offline',
  CLOSED: 'closed',
});

/**
 * An error reply, or a request that got none. retryAfterMs is the retry
 * hint of a RATE_LIMITED reply (the request may succeed after that many
 * milliseconds), undefined otherwise.
 */
export class SwitchboardError extends Error {
  constructor(code, message, requestId, action, retryAfterMs) {
    super(message);
    this.name = 'SwitchboardError';
    this.code = code;
    this.requestId = requestId;
    this.action = action;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * backoffDelay is the wait before reconnect attempt `attempt` (1, 2, ...):
 * full jitter, uniform in [0, min(maxMs, minMs * 2^(attempt-1))].
 */
export function backoffDelay(attempt, minMs, maxMs, random = Math.random) {
  const cap = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.floor(random() * (cap + 1));
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * idFloor is the smallest message id (a ULID) the server can give a message
 * created at or after ms (epoch milliseconds): ids sort by creation time.
 */
export function idFloor(ms) {
  let t = Math.max(0, Math.floor(ms));
  const out = new Array(26).fill('0');
  for (let i = 9; i >= 0; i--) {
    out[i] = CROCKFORD[t % 32];
    t = Math.floor(t / 32);
  }
  return out.join('');
}

const SEEN_PER_ROOM = 2000;
const RESUME_MAX_PAGES = 50; // 5,000 messages per room at most
const BROADCASTS = ['message', 'user_joined', 'user_left', 'typing', 'room_update', 'presence'];

/**
 * A connection to the chat backend that survives reconnects.
 */
export class SwitchboardClient {
  /**
   * @param {object} opts
   * @param {string} [opts.url]          ws://HOST/dev (the token is added as ?token=)
   * @param {string[]} [opts.urls]       more addresses of the same service (the nodes of a
   *                                     cluster): tried after url, in turn, one per attempt
   * @param {() => Promise<string>|string} [opts.getToken]  called before every (re)connect
   * @param {string} [opts.token]        a fixed token, when there is no getToken
   * @param {number} [opts.requestTimeoutMs=10000]
   * @param {number} [opts.heartbeatMs=120000]  0 or less: no heartbeats
   * @param {number} [opts.minBackoffMs=250]
   * @param {number} [opts.maxBackoffMs=30000]
   * @param {boolean} [opts.reconnect=true]
   * @param {typeof WebSocket} [opts.WebSocket]  the WebSocket class (default: globalThis.WebSocket)
   */
  constructor(opts = {}) {
    this._urls = [...new Set([opts.url, ...(opts.urls || [])].filter((u) => typeof u === 'string' && u !== ''))];
    if (this._urls.length === 0) throw new TypeError('SwitchboardClient: url (or urls) is required');
    this._urlIndex = 0;
    /** The address connected to, or tried next. */
    this.url = this._urls[0];
    this._getToken = opts.getToken || (() => opts.token || '');
    this.requestTimeoutMs = opts.requestTimeoutMs > 0 ? opts.requestTimeoutMs : 10000;
    this.heartbeatMs = opts.heartbeatMs === undefined ? 120000 : opts.heartbeatMs;
    this.minBackoffMs = opts.minBackoffMs > 0 ? opts.minBackoffMs : 250;
    this.maxBackoffMs = opts.maxBackoffMs > 0 ? opts.maxBackoffMs : 30000;
    this.reconnect = opts.reconnect !== false;
    this._WS = opts.WebSocket || globalThis.WebSocket;
    if (!this._WS) throw new TypeError('SwitchboardClient: no WebSocket implementation');

    this._state = State.IDLE;
    this._listeners = new Map();
    this._ws = null;
    this._seq = 0;
    this._pending = new Map(); // requestId -> {resolve, reject, timer, action}
    this._rooms = new Map(); // roomId -> {lastId, seen:Set, order:[]}
    this._attempt = 0;
    this._retryTimer = null;
    this._openTimer = null;
    this._heartbeatTimer = null;
    this._everConnected = false;
    this._closed = false;
    this._waiters = []; // {resolve, reject} waiting for 'connected'
    this._idPrefix = 'js' + Math.random().toString(36).slice(2, 8) + '-';

    this._onOnline = () => {
      if (this._closed || this._state === State.CONNECTED) return;
      this.reconnectNow();
    };
    this._onOffline = () => {
      if (this._closed) return;
      // The network is gone: say so now rather than after a timeout, and
      // retry (with backoff) until it is back or 'online' fires.
      if (this._ws && typeof this._ws.close === 'function') this._ws.close(4000, 'browser offline');
      else if (this._state !== State.CONNECTED && this._everConnected && this._sawOnline()) this._setState(State.OFFLINE);
    };
    if (typeof globalThis.addEventListener === 'function') {
      globalThis.addEventListener('online', this._onOnline);
      globalThis.addEventListener('offline', this._onOffline);
    }
  }

  /** The connection state (see State). */
  get state() {
    return this._state;
  }

  /** The ids of the rooms this client has joined (rejoined after a reconnect). */
  get rooms() {
    return [...this._rooms.keys()];
  }

  /** on registers a listener for an event type; it returns a function that removes it. */
  on(type, listener) {
    if (!this._listeners.has(type)) this._listeners.set(type, new Set());
    this._listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }

  off(type, listener) {
    const set = this._listeners.get(type);
    if (set) set.delete(listener);
  }

  _emit(ev) {
    for (const key of [ev.type, '*']) {
      const set = this._listeners.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          fn(ev);
        } catch (err) {
          console.error('switchboard: listener for', ev.type, 'failed:', err);
        }
      }
    }
  }

  _setState(state, extra = {}) {
    const previous = this._state;
    this._state = state;
    if (state === State.CONNECTED) {
      const ws = this._waiters;
      this._waiters = [];
      for (const w of ws) w.resolve();
    }
    if (state !== previous || extra.attempt !== undefined) {
      this._emit({ type: 'state', state, previous, ...extra });
    }
  }

  /**
   * connect opens the connection; it resolves once connected. If the
   * connection cannot be made it keeps trying (state 'connecting', with
   * backoff) until it can, or until close.
   */
  connect() {
    if (this._closed) return Promise.reject(new SwitchboardError('CLOSED', 'client closed'));
    const p = this.whenConnected();
    if (this._state === State.IDLE) {
      this._setState(State.CONNECTING);
      this._open();
    }
    return p;
  }

  /** whenConnected resolves when the client is (next) connected, or after timeoutMs rejects. */
  whenConnected(timeoutMs = 0) {
    if (this._state === State.CONNECTED) return Promise.resolve();
    if (this._closed) return Promise.reject(new SwitchboardError('CLOSED', 'client closed'));
    return new Promise((resolve, reject) => {
      const w = { resolve, reject };
      if (timeoutMs > 0) {
        const timer = setTimeout(() => {
          this._waiters = this._waiters.filter((x) => x !== w);
          reject(new SwitchboardError('DISCONNECTED', 'not connected'));
        }, timeoutMs);
        w.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
        w.reject = (e) => {
          clearTimeout(timer);
          reject(e);
        };
      }
      this._waiters.push(w);
    });
  }

  /** reconnectNow skips the remaining backoff wait and tries at once. */
  reconnectNow() {
    if (this._closed || this._ws) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._open();
  }

  /** close closes the connection (code 1000) and stops reconnecting. */
  close() {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._retryTimer);
    clearTimeout(this._openTimer);
    this._stopHeartbeats();
    if (typeof globalThis.removeEventListener === 'function') {
      globalThis.removeEventListener('online', this._onOnline);
      globalThis.removeEventListener('offline', this._onOffline);
    }
    const ws = this._ws;
    this._ws = null;
    if (ws) {
      try {
        ws.close(1000, 'bye');
      } catch {
        /* already closed */
      }
    }
    this._failPending('CLOSED', 'client closed');
    const waiters = this._waiters;
    this._waiters = [];
    for (const w of waiters) w.reject(new SwitchboardError('CLOSED', 'client closed'));
    this._setState(State.CLOSED);
  }

  async _open() {
    if (this._closed || this._ws) return;
    let token;
    const marker = {};
    this._ws = marker; // a connection attempt is under way
    try {
      token = await this._getToken();
    } catch (err) {
      this._ws = null;
      if (this._closed) return;
      this._emit({ type: 'error', error: err, during: 'getToken' });
      this._scheduleRetry();
      return;
    }
    if (this._closed || this._ws !== marker) return;
    let ws;
    try {
      const u = new URL(this.url, globalThis.location ? globalThis.location.href : undefined);
      if (token) u.searchParams.set('token', token);
      ws = new this._WS(u.toString());
    } catch (err) {
      this._ws = null;
      this._emit({ type: 'error', error: err, during: 'connect' });
      this._scheduleRetry();
      return;
    }
    this._ws = ws;
    let opened = false;
    // A handshake that hangs counts as a failed attempt.
    this._openTimer = setTimeout(() => {
      if (!opened && this._ws === ws) ws.close();
    }, this.requestTimeoutMs);
    ws.onopen = () => {
      if (this._ws !== ws) return;
      opened = true;
      clearTimeout(this._openTimer);
      this._onOpen(ws);
    };
    ws.onmessage = (ev) => {
      if (this._ws === ws) this._onFrame(ev.data);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    ws.onclose = (ev) => {
      clearTimeout(this._openTimer);
      if (this._ws !== ws) return;
      this._ws = null;
      this._onClose(ev, opened);
    };
  }

  _onClose(ev, opened) {
    this._stopHeartbeats();
    this._failPending('DISCONNECTED', 'disconnected before the reply');
    if (this._closed) return;
    if (!this.reconnect) {
      this._closed = true;
      this._setState(State.CLOSED, { code: ev.code, reason: ev.reason });
      return;
    }
    this._emit({ type: 'disconnected', code: ev.code, reason: ev.reason, wasOpen: opened });
    this._scheduleRetry();
  }

  _scheduleRetry() {
    if (this._closed) return;
    this._attempt++;
    // The next address: the one that failed or dropped may be a dead node.
    this._urlIndex = (this._urlIndex + 1) % this._urls.length;
    this.url = this._urls[this._urlIndex];
    const retryInMs = backoffDelay(this._attempt, this.minBackoffMs, this.maxBackoffMs);
    const offline = globalThis.navigator && globalThis.navigator.onLine === false && this._sawOnline();
    let state = this._everConnected ? State.RECONNECTING : State.CONNECTING;
    if (offline) state = State.OFFLINE;
    this._setState(state, { attempt: this._attempt, retryInMs, retryAt: Date.now() + retryInMs });
    clearTimeout(this._retryTimer);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._open();
    }, retryInMs);
  }

  // _sawOnline: navigator.onLine is only trusted once it has been true
  // (some sandboxes without a network report false for loopback servers).
  _sawOnline() {
    if (globalThis.navigator && globalThis.navigator.onLine) this._onlineSeen = true;
    return !!this._onlineSeen;
  }

  async _onOpen(ws) {
    this._sawOnline();
    const resuming = this._everConnected;
    if (!resuming) {
      this._everConnected = true;
      this._attempt = 0;
      this._setState(State.CONNECTED);
      this._startHeartbeats();
      return;
    }
    // Rejoin first (requests of the application wait for 'connected'),
    // then fetch what was missed since the newest message seen before.
    const since = new Map([...this._rooms].map(([id, rs]) => [id, rs.lastId]));
    for (const roomId of since.keys()) {
      try {
        await this._do('joinRoom', { roomId }, { force: true });
      } catch (err) {
        if (this._ws !== ws) return; // dropped again: the next open resumes
        if (err.code === 'ROOM_NOT_FOUND' || err.code === 'FORBIDDEN') {
          this._rooms.delete(roomId);
          since.delete(roomId);
          this._emit({ type: 'room_lost', roomId, error: err });
        } else {
          // Anything else (a timeout, a server error): start over.
          ws.close(4002, 'rejoin failed');
          return;
        }
      }
    }
    if (this._ws !== ws) return;
    this._attempt = 0;
    this._setState(State.CONNECTED);
    this._startHeartbeats();
    let missed = 0;
    for (const [roomId, lastId] of since) {
      let msgs;
      try {
        msgs = await this._missedSince(roomId, lastId);
      } catch (err) {
        if (this._ws !== ws) return;
        this._emit({ type: 'error', error: err, during: 'resume', roomId });
        continue;
      }
      for (let i = msgs.length - 1; i >= 0; i--) {
        const m = msgs[i];
        if (this._markSeen(m)) {
          missed++;
          this._emit({ type: 'message', roomId, data: m, timestamp: m.timestamp, resumed: true });
        }
      }
    }
    if (this._ws === ws) this._emit({ type: 'resumed', rooms: [...since.keys()], missed });
  }

  // _missedSince pages back through a room's history (newest first) until
  // lastId; it returns the newer messages, newest first.
  async _missedSince(roomId, lastId) {
    const out = [];
    let cursor;
    for (let page = 0; page < RESUME_MAX_PAGES; page++) {
      const data = { roomId, limit: 100 };
      if (cursor) data.cursor = cursor;
      const res = await this._do('getRoomHistory', data, { force: true });
      for (const m of res.data.messages || []) {
        if (m.messageId <= lastId) return out;
        out.push(m);
      }
      if (!res.data.cursor) return out;
      cursor = res.data.cursor;
    }
    return out;
  }

  _markSeen(m) {
    const rs = this._rooms.get(m.roomId);
    if (!rs) return true; // not a room we track
    if (rs.seen.has(m.messageId)) return false;
    rs.seen.add(m.messageId);
    rs.order.push(m.messageId);
    if (rs.order.length > SEEN_PER_ROOM) rs.seen.delete(rs.order.shift());
    if (m.messageId > rs.lastId) rs.lastId = m.messageId;
    return true;
  }

  _onFrame(text) {
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      return;
    }
    if (!f || typeof f !== 'object') return;
    if (f.type === 'success' || f.type === 'error') {
      const p = this._pending.get(f.requestId);
      if (!p) return; // timed out, or not ours
      this._pending.delete(f.requestId);
      clearTimeout(p.timer);
      if (f.type === 'error') {
        p.reject(new SwitchboardError(f.code || 'ERROR', f.error || 'request failed', f.requestId, p.action, f.retryAfterMs));
      } else {
        p.resolve(f);
      }
      return;
    }
    if (!BROADCASTS.includes(f.type)) return;
    const ev = { type: f.type, roomId: f.roomId, data: f.data, timestamp: f.timestamp, resumed: false };
    if (f.announced === false) ev.announced = false;
    if (f.type === 'message' && f.data && f.data.messageId) {
      const m = f.data;
      if (!m.edited && !m.deleted && !this._markSeen(m)) return;
    }
    this._emit(ev);
  }

  _failPending(code, message) {
    const p = this._pending;
    this._pending = new Map();
    for (const [id, r] of p) {
      clearTimeout(r.timer);
      r.reject(new SwitchboardError(code, message, id, r.action));
    }
  }

  /**
   * request sends one action and resolves with the reply's data (rejects
   * with a SwitchboardError). Options: timeoutMs; waitForConnection: when
   * not connected, wait (up to the timeout) for the connection instead of
   * failing at once with DISCONNECTED. A request is never sent twice: one
   * whose connection drops before the reply fails with DISCONNECTED, and it
   * may or may not have been carried out.
   */
  async request(action, data, opts = {}) {
    const f = await this._do(action, data, opts);
    return f.data;
  }

  async _do(action, data, opts = {}) {
    const timeoutMs = opts.timeoutMs > 0 ? opts.timeoutMs : this.requestTimeoutMs;
    if (this._closed) throw new SwitchboardError('CLOSED', 'client closed', undefined, action);
    const started = Date.now();
    if (!opts.force && this._state !== State.CONNECTED) {
      if (!opts.waitForConnection) {
        throw new SwitchboardError('DISCONNECTED', 'not connected', undefined, action);
      }
      await this.whenConnected(timeoutMs);
    }
    const ws = this._ws;
    if (!ws || typeof ws.send !== 'function' || ws.readyState !== 1) {
      throw new SwitchboardError('DISCONNECTED', 'not connected', undefined, action);
    }
    const requestId = this._idPrefix + ++this._seq;
    const frame = { action, requestId };
    if (data !== undefined && data !== null) frame.data = data;
    return new Promise((resolve, reject) => {
      const left = Math.max(1, timeoutMs - (Date.now() - started));
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(new SwitchboardError('TIMEOUT', `no reply to ${action} within ${timeoutMs} ms`, requestId, action));
      }, left);
      this._pending.set(requestId, { resolve, reject, timer, action });
      try {
        ws.send(JSON.stringify(frame));
      } catch (err) {
        clearTimeout(timer);
        this._pending.delete(requestId);
        reject(new SwitchboardError('DISCONNECTED', String(err), requestId, action));
      }
    });
  }

  _startHeartbeats() {
    this._stopHeartbeats();
    if (!(this.heartbeatMs > 0)) return;
    this._heartbeatTimer = setInterval(() => {
      if (this._state !== State.CONNECTED) return;
      const ws = this._ws;
      this.heartbeat().then((r) => {
        // The server had let the connection expire: if rooms were lost
        // with it, reconnect, which rejoins them and fetches what was missed.
        if (!r || !r.restored || this._ws !== ws) return;
        const back = new Set(r.rooms || []);
        if ([...this._rooms.keys()].some((id) => !back.has(id))) ws.close(4003, 'connection expired');
      }, (err) => {
        // No answer: the connection is dead without a close event (a
        // sleeping laptop, a dropped network). Close it to reconnect.
        if (err.code === 'TIMEOUT' && this._ws === ws && ws) ws.close(4001, 'heartbeat timeout');
      });
    }, this.heartbeatMs);
  }

  _stopHeartbeats() {
    clearInterval(this._heartbeatTimer);
    this._heartbeatTimer = null;
  }

  // --- one helper per action ---------------------------------------------

  /** createRoom({name, description?, isPrivate?, members?}) → the room. */
  createRoom(input, opts) {
    return this.request('createRoom', input, opts);
  }

  /** listRooms({isPrivate?, limit?, cursor?}) → {rooms, cursor}. */
  listRooms(input = {}, opts) {
    return this.request('listRooms', input, opts);
  }

  /**
   * joinRoom(roomId) → {room, alreadyJoined, announced?}. The client
   * rejoins the room after a reconnect until leaveRoom, and from now on
   * fetches what it misses there. announced (on the join that brought the
   * user into the room; absent when another of the user's connections was
   * in already) false: the room is above the server's threshold and
   * user_joined/user_left are not sent there; list its members with
   * getOnlineUsersReply(roomId) instead.
   */
  async joinRoom(roomId, opts) {
    const f = await this._do('joinRoom', { roomId }, opts);
    if (!this._rooms.has(roomId)) {
      // Messages older than the join are history, not news.
      const at = Date.parse(f.timestamp);
      const floor = idFloor((Number.isNaN(at) ? Date.now() : at) - 1);
      this._rooms.set(roomId, { lastId: floor, seen: new Set(), order: [] });
    }
    return f.data;
  }

  /** leaveRoom(roomId) → {roomId}. */
  async leaveRoom(roomId, opts) {
    const data = await this.request('leaveRoom', { roomId }, opts);
    this._rooms.delete(roomId);
    return data;
  }

  /** sendMessage(roomId, content, {messageType?, replyToMessageId?}) → the stored message. */
  sendMessage(roomId, content, extra = {}, opts) {
    const { messageType, replyToMessageId } = extra;
    const data = { roomId, content };
    if (messageType) data.messageType = messageType;
    if (replyToMessageId) data.replyToMessageId = replyToMessageId;
    return this.request('sendMessage', data, opts);
  }

  /** editMessage(messageId, content) → the message (edited: true). */
  editMessage(messageId, content, opts) {
    return this.request('editMessage', { messageId, content }, opts);
  }

  /** deleteMessage(messageId) → the message (deleted: true). */
  deleteMessage(messageId, opts) {
    return this.request('deleteMessage', { messageId }, opts);
  }

  /**
   * getRoomHistory({roomId, limit?, cursor?}) → {roomId, messages, cursor},
   * newest first; cursor is null on the last page. Messages newer than any
   * seen in a joined room count as seen: their broadcast is not delivered
   * again.
   */
  async getRoomHistory(input, opts) {
    const data = await this.request('getRoomHistory', input, opts);
    const rs = this._rooms.get(input.roomId);
    if (rs) {
      for (const m of data.messages || []) {
        if (m.messageId > rs.lastId) this._markSeen(m);
      }
    }
    return data;
  }

  typingStart(roomId, opts) {
    return this.request('typingStart', { roomId }, opts);
  }

  typingStop(roomId, opts) {
    return this.request('typingStop', { roomId }, opts);
  }

  /** getOnlineUsers(roomId?) → [{userId, username, connections}] (the tenant's, or a room's). */
  async getOnlineUsers(roomId, opts) {
    const data = await this.getOnlineUsersReply({ roomId }, opts);
    return data.users;
  }

  /**
   * getOnlineUsersReply({roomId?, limit?}) → {users, total, roomId?,
   * announced}: the whole reply (users: as many as fit in one reply,
   * 120 KiB); with limit (1–1000) at most that many
   * users, the first by username, total counting all. announced false: the
   * list is not kept live by broadcasts (user_joined/user_left for a room,
   * presence for the tenant: above the server's thresholds); ask again to
   * refresh it. (An older server: announced true, total the users.)
   */
  async getOnlineUsersReply({ roomId, limit } = {}, opts) {
    const input = {};
    if (roomId) input.roomId = roomId;
    if (limit) input.limit = limit;
    const data = await this.request('getOnlineUsers', input, opts);
    const users = data.users || [];
    return { ...data, users, total: typeof data.total === 'number' ? data.total : users.length, announced: data.announced !== false };
  }

  /** heartbeat() → {expiresAt}; the client sends one every heartbeatMs by itself. */
  heartbeat(opts) {
    return this.request('heartbeat', undefined, opts);
  }
}
