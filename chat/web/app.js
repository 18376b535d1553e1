// The Switchboard dev UI: sign-in, rooms, messages, typing, presence.
// All text that comes from users or the server is put into the page with
// textContent / createTextNode, never as HTML.
import { SwitchboardClient, State } from './client.js';

// ---------------------------------------------------------------------------
// Small helpers

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

const store = {
  get(key, area = sessionStorage) {
    try {
      const v = area.getItem(key);
      return v === null ? null : JSON.parse(v);
    } catch {
      return null;
    }
  },
  set(key, value, area = sessionStorage) {
    try {
      if (value === null || value === undefined) area.removeItem(key);
      else area.setItem(key, JSON.stringify(value));
    } catch {
      /* storage unavailable: the app still works for this page */
    }
  },
};

// slug turns a display name into a user id: lower case ASCII letters,
// digits, '.', '_' and '-'.
export function slug(name) {
  return String(name)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim()
    .replace(/\s+/g, '-')
    .replace(/[^a-z0-9._-]/g, '')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 64);
}

function hue(s) {
  let h = 0;
  for (const ch of String(s)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return h % 360;
}

function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : [parts[0] || '?'];
  return letters.map((p) => Array.from(p)[0] || '').join('').toUpperCase();
}

function avatar(userId, name, className = 'avatar') {
  const a = el('div', className, initials(name));
  a.setAttribute('aria-hidden', 'true');
  a.style.setProperty('--hue', String(hue(userId)));
  return a;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const now = new Date();
  return d.toDateString() === now.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

let toastTimer = null;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.classList.remove('show');
    toastTimer = setTimeout(() => (t.hidden = true), 300);
  }, 4000);
}

function showError(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

function describeError(err) {
  if (!err) return 'Something went wrong';
  switch (err.code) {
    case 'DISCONNECTED':
      return 'Not connected to the server: try again when the connection is back.';
    case 'TIMEOUT':
      return 'The server did not answer in time.';
    case 'CONTENT_TOO_LARGE':
      return 'That message is too long.';
    case 'RATE_LIMITED':
      return 'Slow down a little.';
    default:
      return err.message || String(err);
  }
}

// ---------------------------------------------------------------------------
// State

// MAX_CONTENT_BYTES is the server's default limit on a message's content
// (chat.DefaultMaxContentBytes), in UTF-8 bytes; a CONTENT_TOO_LARGE reply
// that names another limit replaces it.
const MAX_CONTENT_BYTES = 4096;
// The composer shows the bytes left once fewer than this many remain.
const COUNTER_FROM_BYTES = 512;
// A user who leaves and comes back within LEFT_GRACE_MS (a reconnect, a
// server restart: the client retries within 10 s) was never gone: the
// "left" notice waits this long and is dropped if they are back.
const LEFT_GRACE_MS = 15_000;
// After our own connection comes back, the members we had seen rejoining
// within RESUME_GRACE_MS are resumes too.
const RESUME_GRACE_MS = 30_000;
// Lists that are not live (docs/protocol.md): above the server's
// thresholds, a room's joins and leaves (user_joined, user_left) or the
// workspace's presence are not broadcast, and the replies and broadcasts
// say so (announced: false). Such a list is refreshed with getOnlineUsers
// every LIST_REFRESH_MS, plus as much again per LIST_REFRESH_PER people
// listed (up to LIST_REFRESH_MAX times it: every tab of a large room or
// workspace reading all of it, the server's reads grow with its size, not
// its square), jittered by ±25 % so that a large room's tabs do not ask
// together; only while the list is not live and the tab is visible; and
// when the room is opened or the tab comes back into view.
// window.switchboardListRefreshMs, set before this module runs, replaces
// LIST_REFRESH_MS (the browser tests).
const LIST_REFRESH_MS = Number(globalThis.switchboardListRefreshMs) > 0 ? Number(globalThis.switchboardListRefreshMs) : 60_000;
const LIST_REFRESH_PER = 1000;
const LIST_REFRESH_MAX = 30;
// getOnlineUsers's limit: a list that is live is never longer (the
// server's default presence threshold), one that is not is counted (total).
// window.switchboardListLimit, set before this module runs, replaces it
// (the browser tests).
const LIST_LIMIT = Number(globalThis.switchboardListLimit) >= 1 ? Math.floor(Number(globalThis.switchboardListLimit)) : 1000;
// The online list shows at most this many people (the count is all of them).
const MAX_LISTED = 200;

const S = {
  identity: null, // {userId, username, tenantId}
  client: null,
  wsURL: null,
  rooms: new Map(), // roomId -> room (visible to this user)
  joined: new Set(), // roomIds joined by this tab
  active: null, // roomId shown
  perRoom: new Map(), // roomId -> RoomState
  online: new Map(), // userId -> {userId, username, connections}
  roomMembers: new Map(), // roomId -> Map userId -> username (online in the room)
  // Whether the lists are kept live by broadcasts (announced, above):
  onlineLive: true, // the workspace's presence
  roomLive: new Map(), // roomId -> false when its joins and leaves are not announced
  refreshedAt: new Map(), // '' (the online list) or roomId -> when last fetched
  // Online beyond those listed (the reply's total past its limit):
  onlineUnlisted: 0,
  roomUnlisted: new Map(), // roomId -> count
  connectedOnce: false,
  pendingSeq: 0,
  // Reconnect noise: `${roomId} ${userId}` -> until when a user_joined of
  // that user in that room is a resume, not news (see onUserJoined).
  recentlyHere: new Map(),
  leftTimers: new Map(), // `${roomId} ${userId}` -> timer of a deferred "left" notice
  maxContentBytes: MAX_CONTENT_BYTES,
};

function roomState(roomId) {
  let rs = S.perRoom.get(roomId);
  if (!rs) {
    rs = {
      messages: new Map(), // messageId -> message (also pending: "~N")
      cursor: null, // for older history
      historyLoaded: false,
      oldestReached: false,
      loading: false,
      unread: 0,
      typers: new Map(), // userId -> {username, timer}
    };
    S.perRoom.set(roomId, rs);
  }
  return rs;
}

// ---------------------------------------------------------------------------
// Dev tokens

async function fetchToken(identity) {
  let res;
  try {
    res = await fetch('/dev-token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(identity),
      cache: 'no-store',
    });
  } catch {
    const e = new Error('Cannot reach the server.');
    e.network = true;
    throw e;
  }
  let body = {};
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok || !body.token) {
    const e = new Error(body.error || `The server answered HTTP ${res.status}.`);
    e.status = res.status;
    throw e;
  }
  return body;
}

function defaultWsURL() {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/dev`;
}

// ---------------------------------------------------------------------------
// Sign-in

function showSignin(errorText) {
  $('app').hidden = true;
  $('signin').hidden = false;
  const tenant = $('signin-tenant');
  if (!tenant.value) tenant.value = store.get('sb.lastTenant', localStorage) || 'default';
  showError($('signin-error'), errorText);
  updateUserIdHint();
  $('signin-name').focus();
}

function updateUserIdHint() {
  const name = $('signin-name').value.trim();
  const id = slug(name);
  $('signin-userid').textContent = name ? (id ? `Your user id will be @${id}` : 'Use at least one letter or digit (a–z, 0–9).') : '\u00a0';
}

function validTenant(t) {
  return /^[A-Za-z0-9._-]{1,64}$/.test(t);
}

async function onSignin(ev) {
  ev.preventDefault();
  const name = $('signin-name').value.trim();
  const tenant = $('signin-tenant').value.trim();
  const err = $('signin-error');
  if (!name) return showError(err, 'Enter your name.'), $('signin-name').focus();
  const userId = slug(name);
  if (!userId) return showError(err, 'Your name needs at least one letter or digit (a–z, 0–9).'), $('signin-name').focus();
  if (!validTenant(tenant)) {
    showError(err, 'A workspace name uses letters, digits, ".", "_" or "-" (at most 64).');
    $('signin-tenant').focus();
    return;
  }
  const identity = { userId, username: name, tenantId: tenant };
  const btn = $('signin-submit');
  btn.disabled = true;
  btn.textContent = 'Signing in…';
  try {
    const tok = await fetchToken(identity);
    S.wsURL = tok.url || defaultWsURL();
    store.set('sb.identity', identity);
    store.set('sb.lastTenant', tenant, localStorage);
    showError(err, '');
    startApp(identity, tok.token);
  } catch (e) {
    showError(err, e.message);
  } finally {
    btn.disabled = false;
    btn.textContent = 'Sign in';
  }
}

function signOut() {
  if (S.client) S.client.close();
  S.client = null;
  store.set('sb.identity', null);
  store.set('sb.joined', null);
  store.set('sb.active', null);
  location.reload();
}

// ---------------------------------------------------------------------------
// The app

function startApp(identity, firstToken) {
  S.identity = identity;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('workspace-name').textContent = identity.tenantId;
  $('me-name').textContent = identity.username;
  $('me-id').textContent = `@${identity.userId}`;
  const meAv = $('me-avatar');
  meAv.textContent = initials(identity.username);
  meAv.style.setProperty('--hue', String(hue(identity.userId)));
  $('welcome-title').textContent = `Welcome, ${identity.username}`;
  document.title = `Switchboard · ${identity.tenantId}`;

  let token = firstToken;
  const client = new SwitchboardClient({
    url: S.wsURL || defaultWsURL(),
    getToken: async () => {
      if (token) {
        const t = token;
        token = null; // a fresh one for every later connect
        return t;
      }
      const res = await fetchToken(identity);
      return res.token;
    },
    heartbeatMs: 60_000,
    requestTimeoutMs: 10_000,
    maxBackoffMs: 10_000,
  });
  S.client = client;
  window.switchboard = client; // for the console
  // For the console and the browser tests: "left the room" notices still
  // waiting for their grace period (LEFT_GRACE_MS).
  // listsLive: whether the online list and the open room's members are
  // kept live by broadcasts, or refreshed every LIST_REFRESH_MS.
  window.switchboardUI = {
    pendingLeftNotices: () => S.leftTimers.size,
    listsLive: () => ({
      online: S.onlineLive,
      room: S.active ? roomLive(S.active) : null,
      refreshing: listTimers.online !== null || listTimers.room !== null,
    }),
  };

  client.on('state', onState);
  client.on('message', onMessage);
  client.on('typing', onTyping);
  client.on('presence', onPresence);
  client.on('user_joined', onUserJoined);
  client.on('user_left', onUserLeft);
  client.on('room_update', (ev) => {
    addRoom(ev.data);
    // Sent to the whole workspace: it says whether presence is announced.
    if (ev.announced === false && S.onlineLive) {
      S.onlineLive = false;
      refreshListSoon('online');
    }
  });
  client.on('room_lost', (ev) => {
    S.joined.delete(ev.roomId);
    saveJoined();
    toast('You are no longer in a room you had joined.');
    renderRooms();
  });
  renderConn(client.state, {});
  renderRooms();
  showWelcomeOrRoom();
  client.connect().catch(() => {});
}

async function onConnected() {
  const first = !S.connectedOnce;
  S.connectedOnce = true;
  await Promise.all([refreshRooms(), refreshOnline()]);
  if (first) {
    // Rejoin what this tab had open before a reload, or, on a new sign-in,
    // what this user had joined when last signed in on this browser.
    const joined = store.get('sb.joined') || store.get(joinedKey(S.identity), localStorage) || [];
    for (const roomId of joined) {
      try {
        const r = await S.client.joinRoom(roomId);
        if (r.announced !== undefined) S.roomLive.set(roomId, r.announced); // absent: the user was in already (a list reply says)
        S.joined.add(roomId);
      } catch {
        /* gone, or no longer allowed */
      }
    }
    saveJoined();
    renderRooms();
    const active = store.get('sb.active');
    if (active && S.joined.has(active)) await openRoom(active);
  } else if (S.active) {
    refreshRoomMembers(S.active);
  }
}

function saveJoined() {
  store.set('sb.joined', [...S.joined]);
  if (S.identity) store.set(joinedKey(S.identity), [...S.joined], localStorage);
}

// joinedKey names this user's joined rooms in localStorage, kept across
// sign-out, so that signing in again restores them.
function joinedKey(identity) {
  return `sb.joined.${identity.tenantId}.${identity.userId}`;
}

// --- connection state -------------------------------------------------------

let connTimer = null;
function onState(ev) {
  renderConn(ev.state, ev);
  // What we show of others (online, in the room) is stale while away.
  document.body.classList.toggle('disconnected', ev.state !== State.CONNECTED);
  if (ev.state === State.CONNECTED) {
    const now = Date.now();
    for (const [k, v] of S.recentlyHere) {
      if (v === Infinity) S.recentlyHere.set(k, now + RESUME_GRACE_MS);
      else if (v < now) S.recentlyHere.delete(k);
    }
    onConnected().catch((e) => console.warn('after connect:', e));
  } else {
    // While we are away, whoever we saw in a room and see again on our
    // return never left as far as we know.
    for (const [roomId, members] of S.roomMembers) {
      for (const userId of members.keys()) S.recentlyHere.set(`${roomId} ${userId}`, Infinity);
    }
    // Nothing to refresh while away: onConnected refreshes the lists.
    stopListRefresh();
    // Nobody is typing while we cannot hear them.
    for (const rs of S.perRoom.values()) {
      for (const t of rs.typers.values()) clearTimeout(t.timer);
      rs.typers.clear();
    }
    renderTyping();
  }
}

function renderConn(state, ev) {
  const box = $('conn');
  const label = $('conn-label');
  const retry = $('conn-retry');
  box.dataset.state = state;
  clearInterval(connTimer);
  const retryText = () => {
    if (!ev.retryAt) return '';
    const s = Math.ceil((ev.retryAt - Date.now()) / 1000);
    return s > 0 ? ` (retry in ${s} s)` : '';
  };
  switch (state) {
    case State.CONNECTED:
      label.textContent = 'Connected';
      retry.hidden = true;
      break;
    case State.IDLE:
    case State.CONNECTING:
      label.textContent = `Connecting…${retryText()}`;
      retry.hidden = !ev.attempt;
      break;
    case State.RECONNECTING:
      label.textContent = `Reconnecting…${retryText()}`;
      retry.hidden = false;
      break;
    case State.OFFLINE:
      label.textContent = 'Offline · waiting for the network';
      retry.hidden = false;
      break;
    default:
      label.textContent = 'Disconnected';
      retry.hidden = true;
  }
  if (ev.retryAt && state !== State.CONNECTED && state !== State.OFFLINE) {
    connTimer = setInterval(() => {
      const base = state === State.RECONNECTING ? 'Reconnecting…' : 'Connecting…';
      label.textContent = base + retryText();
    }, 1000);
  }
  const hint = $('composer-hint');
  hint.classList.toggle('warn', state !== State.CONNECTED);
  hint.replaceChildren();
  if (state === State.CONNECTED) {
    hint.append(el('kbd', null, 'Enter'), ' to send · ', el('kbd', null, 'Shift'), '+', el('kbd', null, 'Enter'), ' for a new line');
  } else {
    hint.append('Not connected: what you send goes out as soon as the connection is back.');
  }
}

// --- rooms --------------------------------------------------------------------

async function refreshRooms() {
  try {
    let cursor;
    for (let page = 0; page < 5; page++) {
      const res = await S.client.listRooms(cursor ? { limit: 100, cursor } : { limit: 100 });
      for (const r of res.rooms || []) S.rooms.set(r.roomId, r);
      if (!res.cursor) break;
      cursor = res.cursor;
    }
  } catch (e) {
    toast(`Could not list rooms: ${describeError(e)}`);
  }
  renderRooms();
  suggestRoomName();
}

function addRoom(room) {
  if (!room || !room.roomId) return;
  S.rooms.set(room.roomId, room);
  renderRooms();
  suggestRoomName();
}

function suggestRoomName() {
  const input = $('quick-room-name');
  if (document.activeElement === input) return;
  const names = new Set([...S.rooms.values()].map((r) => r.name.toLowerCase()));
  if (names.has(input.value.trim().toLowerCase()) || !input.value.trim()) {
    for (const candidate of ['general', 'random', 'team', 'project', 'lounge']) {
      if (!names.has(candidate)) {
        input.value = candidate;
        return;
      }
    }
    input.value = '';
  }
}

// roomIcon is '#' for a public room, a lock (drawn in CSS) for a private one.
function roomIcon(room) {
  const i = el('span', room.isPrivate ? 'room-icon lock' : 'room-icon', room.isPrivate ? '' : '#');
  i.title = room.isPrivate ? 'Private room' : 'Public room';
  return i;
}

// sameNames counts the rooms of each name (case and accents ignored).
function sameNames() {
  const n = new Map();
  for (const r of S.rooms.values()) {
    const k = nameKey(r.name);
    n.set(k, (n.get(k) || 0) + 1);
  }
  return n;
}

function nameKey(name) {
  return String(name).normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

// roomTag tells apart rooms that share a name: who created it, and the end
// of its id when the same person made several.
function roomTag(room) {
  const same = [...S.rooms.values()].filter((r) => nameKey(r.name) === nameKey(room.name));
  if (same.length < 2) return '';
  const byCreator = same.filter((r) => r.createdBy === room.createdBy);
  const who = room.createdBy ? (room.createdBy === S.identity?.userId ? 'by you' : `by @${room.createdBy}`) : '';
  const id = byCreator.length > 1 || !who ? `#${room.roomId.slice(-4)}` : '';
  return [who, id].filter(Boolean).join(' · ');
}

function renderRooms() {
  const list = $('room-list');
  const rooms = [...S.rooms.values()].sort((a, b) => {
    const ja = S.joined.has(a.roomId) ? 0 : 1;
    const jb = S.joined.has(b.roomId) ? 0 : 1;
    return (
      ja - jb ||
      a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) ||
      String(a.createdBy).localeCompare(String(b.createdBy)) ||
      a.roomId.localeCompare(b.roomId)
    );
  });
  list.replaceChildren();
  for (const r of rooms) {
    const joined = S.joined.has(r.roomId);
    const li = el('li');
    const b = el('button', 'room-item');
    b.type = 'button';
    b.dataset.roomId = r.roomId;
    b.classList.toggle('active', r.roomId === S.active);
    b.classList.toggle('joined', joined);
    const tag = roomTag(r);
    b.title = [r.name, tag && `(${tag})`, r.description && `— ${r.description}`].filter(Boolean).join(' ');
    b.append(roomIcon(r));
    const name = el('span', 'room-name', r.name);
    if (tag) name.append(el('span', 'room-tag', tag));
    b.append(name);
    const rs = S.perRoom.get(r.roomId);
    if (!joined) {
      b.append(el('span', 'pill join-pill', 'Join'));
    } else if (rs && rs.unread > 0 && r.roomId !== S.active) {
      b.append(el('span', 'pill unread', rs.unread > 99 ? '99+' : String(rs.unread)));
    }
    b.addEventListener('click', () => openRoom(r.roomId));
    li.append(b);
    list.append(li);
  }
  $('rooms-empty').hidden = rooms.length > 0;
}

async function createRoom(input, errNode, button) {
  showError(errNode, '');
  if (!input.name) return showError(errNode, 'Give the room a name.');
  const text = button.textContent;
  button.disabled = true;
  button.textContent = 'Creating…';
  try {
    const room = await S.client.createRoom(input, { waitForConnection: true });
    addRoom(room);
    await openRoom(room.roomId);
    return room;
  } catch (e) {
    showError(errNode, describeError(e));
    return null;
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

function setupNewRoomForm() {
  const form = $('new-room-form');
  const toggle = $('new-room-btn');
  const open = (show) => {
    form.hidden = !show;
    toggle.setAttribute('aria-expanded', String(show));
    if (show) {
      $('new-room-name').focus();
    } else {
      form.reset();
      $('new-room-members-wrap').hidden = true;
      showError($('new-room-error'), '');
    }
  };
  toggle.addEventListener('click', () => open(form.hidden));
  $('new-room-cancel').addEventListener('click', () => open(false));
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') open(false);
  });
  for (const radio of form.querySelectorAll('input[name=visibility]')) {
    radio.addEventListener('change', () => {
      $('new-room-members-wrap').hidden = form.elements.visibility.value !== 'private';
    });
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const isPrivate = form.elements.visibility.value === 'private';
    const input = { name: $('new-room-name').value.trim() };
    const desc = $('new-room-desc').value.trim();
    if (desc) input.description = desc;
    if (isPrivate) {
      input.isPrivate = true;
      const members = $('new-room-members')
        .value.split(/[\s,]+/)
        .map((m) => m.replace(/^@/, '').trim())
        .filter(Boolean);
      if (members.length) input.members = members;
    }
    const room = await createRoom(input, $('new-room-error'), $('new-room-submit'));
    if (room) open(false);
  });

  $('quick-room-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    await createRoom({ name: $('quick-room-name').value.trim() }, $('quick-room-error'), $('quick-room-submit'));
  });
}

async function leaveActiveRoom() {
  const roomId = S.active;
  if (!roomId) return;
  stopTyping();
  try {
    await S.client.leaveRoom(roomId);
  } catch (e) {
    if (e.code !== 'NOT_IN_ROOM') {
      toast(`Could not leave: ${describeError(e)}`);
      return;
    }
  }
  S.joined.delete(roomId);
  S.perRoom.delete(roomId); // a later join starts from fresh history
  S.roomLive.delete(roomId);
  S.roomUnlisted.delete(roomId);
  S.active = null;
  saveJoined();
  store.set('sb.active', null);
  renderRooms();
  showWelcomeOrRoom();
  suggestRoomName();
  scheduleListRefresh('room'); // no room's members to refresh now
}

async function openRoom(roomId) {
  const room = S.rooms.get(roomId);
  if (!room) return;
  if (!S.joined.has(roomId)) {
    try {
      const r = await S.client.joinRoom(roomId, { waitForConnection: true });
      if (r.announced !== undefined) S.roomLive.set(roomId, r.announced); // absent: the user was in already (a list reply says)
    } catch (e) {
      toast(`Could not join ${room.name}: ${describeError(e)}`);
      return;
    }
    S.joined.add(roomId);
    saveJoined();
  }
  if (S.active && S.active !== roomId) stopTyping();
  S.active = roomId;
  store.set('sb.active', roomId);
  const rs = roomState(roomId);
  rs.unread = 0;
  renderRooms();
  showWelcomeOrRoom();
  renderRoomHeader();
  renderAllMessages();
  renderTyping();
  refreshRoomMembers(roomId);
  if (!rs.historyLoaded) await loadHistory(roomId, true);
  scrollToBottom();
  $('composer-input').focus();
}

function showWelcomeOrRoom() {
  const has = !!S.active;
  $('welcome').hidden = has;
  $('room-view').hidden = !has;
  $('leave-room').hidden = !has;
  if (!has) {
    $('room-name').textContent = 'Welcome';
    $('room-desc').textContent = 'Pick a room on the left, or create one.';
    $('room-members').hidden = true;
  }
}

function renderRoomHeader() {
  const room = S.rooms.get(S.active);
  if (!room) return;
  const tag = roomTag(room);
  $('room-name').replaceChildren(roomIcon(room), el('span', null, room.name));
  if (tag) $('room-name').append(el('span', 'room-tag', tag));
  $('room-desc').textContent = room.description || (room.isPrivate ? 'Private room' : 'Public room');
  $('composer-input').placeholder = `Message ${room.isPrivate ? '' : '#'}${room.name}`;
  renderRoomMembers();
}

async function refreshRoomMembers(roomId) {
  try {
    const r = await S.client.getOnlineUsersReply({ roomId, limit: LIST_LIMIT });
    S.roomMembers.set(roomId, new Map(r.users.map((u) => [u.userId, u.username])));
    S.roomUnlisted.set(roomId, Math.max(0, r.total - r.users.length));
    S.roomLive.set(roomId, r.announced);
    S.refreshedAt.set(roomId, Date.now());
  } catch {
    return;
  } finally {
    if (roomId === S.active) scheduleListRefresh('room');
  }
  if (roomId === S.active) renderRoomMembers();
}

function roomSize(roomId) {
  return (S.roomMembers.get(roomId)?.size || 0) + (S.roomUnlisted.get(roomId) || 0);
}

function renderRoomMembers() {
  const node = $('room-members');
  const m = S.roomMembers.get(S.active);
  if (!m) {
    node.hidden = true;
    return;
  }
  node.hidden = false;
  const n = roomSize(S.active);
  let text = n === 1 ? '1 person here' : `${n} people here`;
  if (!roomLive(S.active)) text += ` · updated ${every(refreshPeriod(n))}`;
  node.textContent = text;
  const names = [...m.values()].sort();
  const more = n - Math.min(names.length, MAX_LISTED);
  node.title = names.slice(0, MAX_LISTED).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

// --- lists that are not live ---------------------------------------------------------

function roomLive(roomId) {
  return S.roomLive.get(roomId) !== false;
}

// every describes a refresh period for people: "every minute".
function every(ms) {
  if (ms >= 60_000) {
    const m = Math.round(ms / 60_000);
    return m === 1 ? 'every minute' : `every ${m} minutes`;
  }
  const s = Math.max(1, Math.round(ms / 1000));
  return s === 1 ? 'every second' : `every ${s} seconds`;
}

// refreshPeriod is how often a list of n people that is not live is
// fetched again (LIST_REFRESH_MS, above).
function refreshPeriod(n) {
  return LIST_REFRESH_MS * Math.min(LIST_REFRESH_MAX, Math.max(1, n / LIST_REFRESH_PER));
}

// The lists' timers, one each, so that refreshing one never puts the
// other off: 'online' (the workspace) and 'room' (the open room's members).
const listTimers = { online: null, room: null };
const listStale = {
  online: () => !S.onlineLive,
  room: () => !!S.active && !roomLive(S.active),
};
const listRefresh = {
  online: () => refreshOnline(),
  room: () => S.active && refreshRoomMembers(S.active),
};
const listSize = {
  online: () => S.online.size + S.onlineUnlisted,
  room: () => (S.active ? roomSize(S.active) : 0),
};
const listKey = { online: () => '', room: () => S.active };

// scheduleListRefresh (re)arms the timer of one list (which): its next
// refresh in refreshPeriod ± 25 %; none while it is live, the tab is
// hidden or the connection is down (onConnected refreshes the lists when
// it is back).
function scheduleListRefresh(which) {
  clearTimeout(listTimers[which]);
  listTimers[which] = null;
  if (!listStale[which]() || document.hidden || S.client?.state !== State.CONNECTED) return;
  listTimers[which] = setTimeout(
    () => {
      listTimers[which] = null;
      listRefresh[which]();
    },
    refreshPeriod(listSize[which]()) * (0.75 + Math.random() * 0.5),
  );
}

// refreshListSoon refreshes one list (which) at a random moment within a
// quarter of its period: a broadcast that says announced: false reaches
// every tab of the room or workspace at once, and they should not all ask
// together (a workspace just past 1,000 connections: 1,001 lists of 1,001
// people in one burst).
function refreshListSoon(which) {
  clearTimeout(listTimers[which]);
  listTimers[which] = null;
  if (document.hidden || S.client?.state !== State.CONNECTED) return; // onVisibility, onConnected catch up
  listTimers[which] = setTimeout(
    () => {
      listTimers[which] = null;
      listRefresh[which]();
    },
    (refreshPeriod(listSize[which]()) / 4) * Math.random(),
  );
}

function stopListRefresh() {
  for (const which of Object.keys(listTimers)) {
    clearTimeout(listTimers[which]);
    listTimers[which] = null;
  }
}

// Back in view: the lists that are not live are refreshed at once (not
// more than four times per period however often the tab is switched), and
// so are the live ones, whose room or workspace may have grown past the
// threshold unseen while nobody spoke, at most once per LIST_REFRESH_MS.
// Hidden: no refreshes.
let checkedLiveAt = 0;
function onVisibility() {
  if (document.hidden) {
    stopListRefresh();
    return;
  }
  if (S.client?.state !== State.CONNECTED) return;
  const checkLive = Date.now() - checkedLiveAt >= LIST_REFRESH_MS;
  if (checkLive) checkedLiveAt = Date.now();
  for (const which of Object.keys(listTimers)) {
    const last = S.refreshedAt.get(listKey[which]()) || 0;
    const due = Date.now() - last >= refreshPeriod(listSize[which]()) / 4;
    if ((listStale[which]() || checkLive) && due && listKey[which]() !== null) listRefresh[which]();
    else scheduleListRefresh(which);
  }
}

// noteRoomAnnounced reads a room broadcast (message, typing): announced
// false says its joins and leaves are no longer announced, so that the
// members seen are refreshed rather than left to go stale.
function noteRoomAnnounced(ev) {
  if (ev.announced !== false || !ev.roomId || !roomLive(ev.roomId)) return;
  S.roomLive.set(ev.roomId, false);
  if (ev.roomId === S.active) refreshListSoon('room');
}

// --- history --------------------------------------------------------------------

async function loadHistory(roomId, first) {
  const rs = roomState(roomId);
  if (rs.loading || (!first && (rs.oldestReached || !rs.cursor))) return;
  rs.loading = true;
  renderHistoryTop();
  const scroller = $('scroller');
  const before = scroller.scrollHeight - scroller.scrollTop;
  try {
    const input = { roomId, limit: 50 };
    if (!first) input.cursor = rs.cursor;
    const page = await S.client.getRoomHistory(input, { waitForConnection: true });
    for (const m of page.messages || []) upsert(m, { fromHistory: true });
    rs.cursor = page.cursor || null;
    rs.oldestReached = !page.cursor;
    rs.historyLoaded = true;
  } catch (e) {
    toast(`Could not load messages: ${describeError(e)}`);
  } finally {
    rs.loading = false;
  }
  if (roomId === S.active) {
    renderHistoryTop();
    if (!first) scroller.scrollTop = scroller.scrollHeight - before; // keep the view still
  }
}

function renderHistoryTop() {
  const rs = S.active && S.perRoom.get(S.active);
  const room = S.rooms.get(S.active);
  if (!rs) return;
  $('history-loading').hidden = !rs.loading;
  $('load-older').hidden = rs.loading || rs.oldestReached || !rs.historyLoaded;
  const start = $('history-start');
  start.hidden = !rs.oldestReached;
  if (room) start.textContent = `This is the very beginning of ${room.isPrivate ? '' : '#'}${room.name}.`;
}

// --- messages ---------------------------------------------------------------------

const nodes = new Map(); // messageId -> <li> of the active room

// upsert records a message (new, edited or deleted) and shows it if its
// room is open. The same messageId is only ever shown once.
function upsert(m, { fromHistory = false } = {}) {
  if (!m || !m.messageId || !m.roomId) return false;
  const rs = roomState(m.roomId);
  const old = rs.messages.get(m.messageId);
  if (old) {
    if (old.deleted && !m.deleted) return false; // a deletion is final
    const oe = Date.parse(old.editedAt || old.timestamp);
    const ne = Date.parse(m.editedAt || m.timestamp);
    if (!m.deleted && ne < oe) return false; // an older version
    if (fromHistory && !m.deleted && !m.edited && (old.edited || old.deleted)) return false;
  }
  rs.messages.set(m.messageId, m);
  if (!old && m.userId === S.identity.userId) dropPendingEcho(m);
  if (m.roomId === S.active) renderMessage(m);
  return !old;
}

function sortedIds(rs) {
  return [...rs.messages.keys()].sort();
}

function renderAllMessages() {
  const list = $('messages');
  list.replaceChildren();
  nodes.clear();
  const rs = S.perRoom.get(S.active);
  if (!rs) return;
  for (const id of sortedIds(rs)) {
    const li = buildMessage(rs.messages.get(id));
    nodes.set(id, li);
    list.append(li);
  }
  for (const li of list.children) applyGrouping(li);
  renderHistoryTop();
}

function renderMessage(m) {
  const list = $('messages');
  const scroller = $('scroller');
  const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  const existing = nodes.get(m.messageId);
  const li = buildMessage(m);
  if (existing) {
    // Keep an edit form that is open unless the message went away.
    if (existing.classList.contains('editing') && !m.deleted) {
      existing.dataset.pendingUpdate = '1';
      return;
    }
    existing.replaceWith(li);
  } else {
    // Insert in messageId order (ids sort by time; pending ones last).
    let next = null;
    for (let i = list.children.length - 1; i >= 0; i--) {
      const c = list.children[i];
      if (c.dataset.messageId < m.messageId) break;
      next = c;
    }
    list.insertBefore(li, next);
  }
  nodes.set(m.messageId, li);
  applyGrouping(li);
  if (li.nextElementSibling) applyGrouping(li.nextElementSibling);
  if (!existing) {
    const mine = m.userId === S.identity.userId;
    if (nearBottom || mine) scrollToBottom();
    else if (!li.nextElementSibling) $('jump-new').hidden = false;
  }
}

function applyGrouping(li) {
  const prev = li.previousElementSibling;
  let compact = false;
  if (prev && !li.classList.contains('deleted') && !prev.classList.contains('deleted')) {
    const dt = Date.parse(li.dataset.ts) - Date.parse(prev.dataset.ts);
    compact = prev.dataset.userId === li.dataset.userId && dt >= 0 && dt < 5 * 60 * 1000;
  }
  li.classList.toggle('compact', compact);
}

function buildMessage(m) {
  const mine = m.userId === S.identity.userId;
  const li = el('li', 'msg');
  li.dataset.messageId = m.messageId;
  li.dataset.userId = m.userId;
  li.dataset.ts = m.timestamp || new Date().toISOString();
  li.classList.toggle('own', mine);
  li.classList.toggle('deleted', !!m.deleted);
  li.classList.toggle('pending', !!m.pending);
  li.classList.toggle('failed', !!m.failed);

  li.append(avatar(m.userId, m.username));
  const body = el('div', 'msg-body');
  const meta = el('div', 'msg-meta');
  meta.append(el('span', 'author', m.username || m.userId));
  const t = el('time', 'ts', formatTime(m.timestamp));
  if (m.timestamp) {
    t.dateTime = m.timestamp;
    t.title = fullFmt.format(new Date(m.timestamp));
  }
  meta.append(t);
  if (m.edited && !m.deleted) {
    const e = el('span', 'edited', '(edited)');
    if (m.editedAt) e.title = `Edited ${fullFmt.format(new Date(m.editedAt))}`;
    meta.append(e);
  }
  body.append(meta);

  if (m.deleted) {
    body.append(el('div', 'content deleted-text', 'This message was deleted.'));
  } else {
    const c = el('div', 'content');
    c.append(...linkify(m.content)); // text nodes and <a>, never HTML
    body.append(c);
  }
  if (m.pending) {
    body.append(el('div', 'msg-status', m.unconfirmed ? 'Not confirmed yet…' : 'Sending…'));
  } else if (m.failed) {
    const st = el('div', 'msg-status error');
    st.append(el('span', null, m.failed), ' ');
    const retry = el('button', 'btn link small', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', () => retryPending(m));
    const discard = el('button', 'btn link small', 'Discard');
    discard.type = 'button';
    discard.addEventListener('click', () => removePending(m));
    st.append(retry, ' · ', discard);
    body.append(st);
  } else if (mine && !m.deleted) {
    const actions = el('div', 'msg-actions');
    const edit = el('button', 'btn icon small', 'Edit');
    edit.type = 'button';
    edit.dataset.action = 'edit';
    edit.addEventListener('click', () => startEdit(li, m));
    const del = el('button', 'btn icon small danger', 'Delete');
    del.type = 'button';
    del.dataset.action = 'delete';
    del.addEventListener('click', () => confirmDelete(li, m));
    actions.append(edit, del);
    body.append(actions);
  }
  li.append(body);
  return li;
}

// URL_RE finds http(s) URLs in text; trailing punctuation is not part of
// them, nor a closing bracket without its opening one.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

// linkify returns text as nodes: text nodes, and an <a> (made with DOM
// APIs, opening in a new tab without an opener or referrer) for each
// http:// or https:// URL in it. Anything else stays text.
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of String(text).matchAll(URL_RE)) {
    let url = m[0];
    while (/[.,;:!?*_~]$/.test(url) || (/[)\]}]$/.test(url) && !balanced(url))) url = url.slice(0, -1);
    let href = null;
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch {
      /* not a URL after all */
    }
    if (!href) continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    const a = document.createElement('a');
    a.href = href;
    a.textContent = url;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.className = 'link';
    out.push(a);
    last = m.index + url.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

function balanced(url) {
  const close = url.slice(-1);
  const open = { ')': '(', ']': '[', '}': '{' }[close];
  return url.split(open).length >= url.split(close).length;
}

function startEdit(li, m) {
  if (li.classList.contains('editing')) return;
  li.classList.add('editing');
  const content = li.querySelector('.content');
  const form = el('form', 'edit-form');
  const ta = el('textarea', 'edit-input');
  ta.value = m.content;
  ta.rows = Math.min(8, Math.max(1, m.content.split('\n').length));
  ta.setAttribute('aria-label', 'Edit message');
  const err = el('p', 'form-error');
  err.hidden = true;
  const row = el('div', 'edit-actions');
  const hint = el('span', 'muted small', 'Enter to save · Esc to cancel');
  const cancel = el('button', 'btn ghost small', 'Cancel');
  cancel.type = 'button';
  const save = el('button', 'btn primary small', 'Save');
  save.type = 'submit';
  row.append(hint, cancel, save);
  form.append(ta, err, row);
  content.replaceWith(form);
  li.querySelector('.msg-actions')?.setAttribute('hidden', '');
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);

  const close = () => {
    li.classList.remove('editing');
    const cur = S.perRoom.get(m.roomId)?.messages.get(m.messageId) || m;
    renderMessageForce(cur);
  };
  cancel.addEventListener('click', close);
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = ta.value.trim();
    if (!text) return showError(err, 'A message cannot be empty: delete it instead.');
    if (text === m.content) return close();
    save.disabled = true;
    try {
      const updated = await S.client.editMessage(m.messageId, text);
      li.classList.remove('editing');
      upsert(updated);
      renderMessageForce(S.perRoom.get(m.roomId).messages.get(m.messageId));
    } catch (ex) {
      save.disabled = false;
      showError(err, describeError(ex));
    }
  });
}

function renderMessageForce(m) {
  const li = nodes.get(m.messageId);
  if (li) li.classList.remove('editing');
  if (m.roomId === S.active) renderMessage(m);
}

function confirmDelete(li, m) {
  const actions = li.querySelector('.msg-actions');
  if (!actions || actions.classList.contains('confirming')) return;
  actions.classList.add('confirming');
  const saved = [...actions.childNodes];
  const q = el('span', 'confirm-text', 'Delete this message?');
  const yes = el('button', 'btn danger-solid small', 'Delete');
  yes.type = 'button';
  yes.dataset.action = 'confirm-delete';
  const no = el('button', 'btn ghost small', 'Cancel');
  no.type = 'button';
  actions.replaceChildren(q, no, yes);
  no.addEventListener('click', () => {
    actions.classList.remove('confirming');
    actions.replaceChildren(...saved);
  });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try {
      upsert(await S.client.deleteMessage(m.messageId));
    } catch (e) {
      toast(`Could not delete: ${describeError(e)}`);
      actions.classList.remove('confirming');
      actions.replaceChildren(...saved);
    }
  });
  yes.focus();
}

// --- sending ----------------------------------------------------------------------

async function send(roomId, content, pending) {
  const rs = roomState(roomId);
  if (!pending) {
    pending = {
      messageId: `~${String(++S.pendingSeq).padStart(8, '0')}`,
      roomId,
      userId: S.identity.userId,
      username: S.identity.username,
      content,
      timestamp: new Date().toISOString(),
      pending: true,
    };
  } else {
    pending = { ...pending, pending: true, failed: null, unconfirmed: false };
  }
  rs.messages.set(pending.messageId, pending);
  if (roomId === S.active) renderMessage(pending);
  try {
    const m = await S.client.sendMessage(roomId, content, {}, { waitForConnection: true, timeoutMs: 30_000 });
    removePending(pending);
    upsert(m);
  } catch (e) {
    if (!rs.messages.has(pending.messageId)) return; // its echo arrived
    const cur = { ...pending, pending: false };
    if (e.code === 'DISCONNECTED' && S.client.state !== State.CONNECTED && e.requestId) {
      // Sent, but the connection dropped before the reply: it may have
      // been stored. Resume will deliver it if so (dropPendingEcho).
      cur.pending = true;
      cur.unconfirmed = true;
      setTimeout(() => {
        const still = rs.messages.get(pending.messageId);
        if (still && still.unconfirmed) {
          rs.messages.set(pending.messageId, { ...still, pending: false, unconfirmed: false, failed: 'Maybe not sent.' });
          if (roomId === S.active) renderMessage(rs.messages.get(pending.messageId));
        }
      }, 30_000);
    } else {
      const limit = e.code === 'CONTENT_TOO_LARGE' && /limit is (\d+)/.exec(e.message || '');
      if (limit) {
        S.maxContentBytes = Number(limit[1]);
        renderCounter();
      }
      cur.failed = `Not sent: ${describeError(e)}`;
    }
    rs.messages.set(pending.messageId, cur);
    if (roomId === S.active) renderMessage(cur);
  }
}

// dropPendingEcho removes the pending copy of a message of ours (the oldest
// with that content) once the real one arrives, whether as the reply, its
// broadcast (which may come first) or after a reconnect.
function dropPendingEcho(m) {
  const rs = S.perRoom.get(m.roomId);
  if (!rs) return;
  for (const [id, p] of rs.messages) {
    if (id.startsWith('~') && p.pending && p.content === m.content) {
      removePending(p);
      return;
    }
  }
}

function removePending(p) {
  const rs = S.perRoom.get(p.roomId);
  if (rs) rs.messages.delete(p.messageId);
  const li = nodes.get(p.messageId);
  if (li) {
    const next = li.nextElementSibling;
    li.remove();
    nodes.delete(p.messageId);
    if (next) applyGrouping(next);
  }
}

function retryPending(p) {
  removePending(p);
  send(p.roomId, p.content);
}

const utf8 = new TextEncoder();
function utf8Length(s) {
  return utf8.encode(s).length;
}

// renderCounter shows how many bytes a message may still have once the
// draft nears the limit (content is counted in UTF-8 bytes, trimmed, as
// the server counts it), and refuses to send past it.
function renderCounter() {
  const counter = $('composer-count');
  const left = S.maxContentBytes - utf8Length($('composer-input').value.trim());
  const show = left < COUNTER_FROM_BYTES;
  counter.hidden = !show;
  counter.classList.toggle('over', left < 0);
  $('send-btn').disabled = left < 0;
  if (show) {
    counter.textContent = left >= 0 ? `${left} bytes left` : `${-left} bytes over the limit of ${S.maxContentBytes}`;
  }
}

function setupComposer() {
  const form = $('composer');
  const input = $('composer-input');
  const autosize = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', () => {
    autosize();
    renderCounter();
    if (input.value.trim()) noteTyping();
    else stopTyping();
  });
  input.addEventListener('blur', () => stopTyping());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const content = input.value.trim();
    if (!content || !S.active) return;
    if (utf8Length(content) > S.maxContentBytes) {
      renderCounter();
      return;
    }
    stopTyping();
    input.value = '';
    autosize();
    renderCounter();
    send(S.active, content);
    input.focus();
  });
}

// --- typing -------------------------------------------------------------------------

const TYPING_SEND_EVERY = 2500; // ms between typingStart while typing
const TYPING_IDLE = 4000; // ms without a key before typingStop
const TYPING_FADE = 6000; // ms after which someone else's indicator fades

const TYPING_MIN_GAP = 300; // the server takes one typingStart per 250 ms

let typingRoom = null; // the room we told we are typing in
let typingSentAt = 0; // when we last sent typingStart (any room)
let typingIdle = null;
let typingLater = null;

function noteTyping() {
  const roomId = S.active;
  if (!roomId || !S.client || S.client.state !== State.CONNECTED) return;
  const now = Date.now();
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, TYPING_IDLE);
  if (typingRoom === roomId && now - typingSentAt < TYPING_SEND_EVERY) return;
  typingRoom = roomId;
  clearTimeout(typingLater);
  const wait = typingSentAt + TYPING_MIN_GAP - now;
  const start = () => {
    if (typingRoom !== roomId || S.client.state !== State.CONNECTED) return;
    typingSentAt = Date.now();
    S.client.typingStart(roomId).catch(() => {});
  };
  if (wait > 0) typingLater = setTimeout(start, wait);
  else start();
}

function stopTyping() {
  clearTimeout(typingIdle);
  clearTimeout(typingLater);
  if (!typingRoom) return;
  const roomId = typingRoom;
  typingRoom = null;
  if (S.client && S.client.state === State.CONNECTED) S.client.typingStop(roomId).catch(() => {});
}

function onTyping(ev) {
  noteRoomAnnounced(ev);
  const { userId, username, isTyping } = ev.data || {};
  if (!ev.roomId || !userId || userId === S.identity.userId) return;
  const rs = roomState(ev.roomId);
  const t = rs.typers.get(userId);
  if (t) clearTimeout(t.timer);
  if (isTyping) {
    const timer = setTimeout(() => {
      rs.typers.delete(userId);
      renderTyping();
    }, TYPING_FADE);
    rs.typers.set(userId, { username: username || userId, timer });
  } else {
    rs.typers.delete(userId);
  }
  if (ev.roomId === S.active) renderTyping();
}

function renderTyping() {
  const box = $('typing');
  const rs = S.active && S.perRoom.get(S.active);
  const names = rs ? [...rs.typers.values()].map((t) => t.username) : [];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length === 3) text = `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  else if (names.length > 3) text = `${names[0]}, ${names[1]} and ${names.length - 2} others are typing…`;
  if (text) $('typing-text').textContent = text;
  box.classList.toggle('visible', !!text);
}

// --- presence -------------------------------------------------------------------------

async function refreshOnline() {
  try {
    const r = await S.client.getOnlineUsersReply({ limit: LIST_LIMIT });
    S.online = new Map(r.users.map((u) => [u.userId, u]));
    S.onlineUnlisted = Math.max(0, r.total - r.users.length);
    S.onlineLive = r.announced;
    S.refreshedAt.set('', Date.now());
  } catch {
    return;
  } finally {
    scheduleListRefresh('online');
  }
  renderOnline();
}

function onPresence(ev) {
  const { userId, username, status } = ev.data || {};
  if (!userId) return;
  if (status === 'online') S.online.set(userId, { userId, username, connections: 1 });
  else if (status === 'offline' && !S.online.delete(userId) && S.onlineUnlisted > 0) S.onlineUnlisted--;
  renderOnline();
}

function renderOnline() {
  const list = $('online-list');
  const users = [...S.online.values()];
  // We are online, listed or not: beyond a cut reply's users, we are
  // among those it counts (total), and counted once.
  let unlisted = S.onlineUnlisted;
  if (S.identity && S.client?.state === State.CONNECTED && !S.online.has(S.identity.userId)) {
    users.push({ userId: S.identity.userId, username: S.identity.username });
    if (unlisted > 0) unlisted--;
  }
  users.sort((a, b) => {
    if (a.userId === S.identity.userId) return -1;
    if (b.userId === S.identity.userId) return 1;
    return a.username.localeCompare(b.username, undefined, { sensitivity: 'base' });
  });
  list.replaceChildren();
  for (const u of users.slice(0, MAX_LISTED)) {
    const li = el('li', 'online-user');
    li.dataset.userId = u.userId;
    li.title = `@${u.userId}`;
    const av = avatar(u.userId, u.username, 'avatar small');
    av.append(el('span', 'presence-dot'));
    li.append(av, el('span', 'online-name', u.username));
    if (u.userId === S.identity.userId) li.append(el('span', 'you', 'you'));
    list.append(li);
  }
  const count = users.length + unlisted;
  const more = count - Math.min(users.length, MAX_LISTED);
  if (more > 0) list.append(el('li', 'online-more', `and ${more} more`));
  const note = $('online-note');
  note.hidden = S.onlineLive;
  note.textContent = S.onlineLive ? '' : `A large workspace: this list is updated ${every(refreshPeriod(count))}.`;
  $('online-count').textContent = String(count);
  $('online-toggle-count').textContent = String(count);
}

// On a narrow screen the online list is a panel opened from the top bar.
function setupOnlineToggle() {
  const btn = $('online-toggle');
  const app = $('app');
  const show = (open) => {
    app.classList.toggle('show-online', open);
    btn.setAttribute('aria-expanded', String(open));
  };
  btn.addEventListener('click', (e) => {
    e.stopPropagation();
    show(!app.classList.contains('show-online'));
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') show(false);
  });
  document.addEventListener('click', (e) => {
    if (app.classList.contains('show-online') && !e.target.closest('.online-section')) show(false);
  });
}

function onUserJoined(ev) {
  const { userId, username } = ev.data || {};
  if (!ev.roomId || !userId) return;
  if (!S.roomMembers.has(ev.roomId)) S.roomMembers.set(ev.roomId, new Map());
  const members = S.roomMembers.get(ev.roomId);
  const known = members.has(userId);
  members.set(userId, username);
  const key = `${ev.roomId} ${userId}`;
  const pendingLeft = S.leftTimers.get(key);
  const resumed = pendingLeft !== undefined || (S.recentlyHere.get(key) || 0) > Date.now();
  clearTimeout(pendingLeft);
  S.leftTimers.delete(key);
  S.recentlyHere.delete(key);
  if (ev.roomId === S.active) renderRoomMembers();
  if (ev.roomId === S.active && !known && !resumed) notice(`${username || userId} joined the room`);
}

function onUserLeft(ev) {
  const { userId, username } = ev.data || {};
  if (!ev.roomId || !userId) return;
  const known = S.roomMembers.get(ev.roomId)?.delete(userId);
  // Someone beyond the list's limit (getOnlineUsers's total) left.
  const unlisted = S.roomUnlisted.get(ev.roomId) || 0;
  if (!known && unlisted > 0) S.roomUnlisted.set(ev.roomId, unlisted - 1);
  const rs = S.perRoom.get(ev.roomId);
  if (rs?.typers.has(userId)) {
    clearTimeout(rs.typers.get(userId).timer);
    rs.typers.delete(userId);
  }
  if (ev.roomId === S.active) {
    renderRoomMembers();
    renderTyping();
  }
  if (!known) return;
  // A reconnect or a server restart looks like a leave and a join: the
  // notice waits, and is dropped if they are back in time.
  const key = `${ev.roomId} ${userId}`;
  clearTimeout(S.leftTimers.get(key));
  S.leftTimers.set(
    key,
    setTimeout(() => {
      S.leftTimers.delete(key);
      if (ev.roomId === S.active && !S.roomMembers.get(ev.roomId)?.has(userId)) notice(`${username || userId} left the room`);
    }, LEFT_GRACE_MS),
  );
}

// notice shows a short line in the open room (not a message: not kept).
function notice(text) {
  const list = $('messages');
  const li = el('li', 'notice', text);
  // It sorts after the newest message so far, before later ones.
  const rs = S.perRoom.get(S.active);
  // ('/' sorts before every message id when there is none yet.)
  const last = (rs && sortedIds(rs).filter((id) => !id.startsWith('~')).pop()) || '/';
  li.dataset.messageId = `${last}~${String(++S.pendingSeq).padStart(8, '0')}`;
  let next = null;
  for (let i = list.children.length - 1; i >= 0; i--) {
    const c = list.children[i];
    if (c.dataset.messageId < li.dataset.messageId) break;
    next = c;
  }
  list.insertBefore(li, next);
  const scroller = $('scroller');
  if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 160) scrollToBottom();
}

// --- incoming messages ------------------------------------------------------------------

function onMessage(ev) {
  noteRoomAnnounced(ev);
  const m = ev.data;
  if (!m || !m.roomId) return;
  const isNew = upsert(m);
  const rs = roomState(m.roomId);
  if (rs.typers.has(m.userId)) {
    clearTimeout(rs.typers.get(m.userId).timer);
    rs.typers.delete(m.userId);
    if (m.roomId === S.active) renderTyping();
  }
  if (isNew && !m.edited && !m.deleted && m.userId !== S.identity.userId && m.roomId !== S.active) {
    rs.unread++;
    renderRooms();
  }
}

// --- scrolling ---------------------------------------------------------------------------

function scrollToBottom() {
  const s = $('scroller');
  s.scrollTop = s.scrollHeight;
  $('jump-new').hidden = true;
}

function setupScroller() {
  const s = $('scroller');
  s.addEventListener('scroll', () => {
    if (s.scrollTop < 80 && S.active) loadHistory(S.active, false);
    if (s.scrollHeight - s.scrollTop - s.clientHeight < 40) $('jump-new').hidden = true;
  });
  $('load-older').addEventListener('click', () => S.active && loadHistory(S.active, false));
  $('jump-new').addEventListener('click', scrollToBottom);
}

// ---------------------------------------------------------------------------
// Boot

function boot() {
  $('signin-form').addEventListener('submit', onSignin);
  $('signin-name').addEventListener('input', updateUserIdHint);
  $('signout-btn').addEventListener('click', signOut);
  $('conn-retry').addEventListener('click', () => S.client && S.client.reconnectNow());
  $('leave-room').addEventListener('click', leaveActiveRoom);
  setupNewRoomForm();
  setupComposer();
  setupScroller();
  setupOnlineToggle();
  document.addEventListener('visibilitychange', onVisibility);

  const identity = store.get('sb.identity');
  if (identity && identity.userId && identity.username && identity.tenantId) {
    // A reload: sign in again with the same identity.
    fetchToken(identity)
      .then((tok) => {
        S.wsURL = tok.url || defaultWsURL();
        startApp(identity, tok.token);
      })
      .catch((e) => {
        if (e.network) {
          // The server is down: start anyway; the client keeps trying.
          S.wsURL = defaultWsURL();
          startApp(identity, null);
        } else {
          store.set('sb.identity', null);
          showSignin(e.message);
        }
      });
  } else {
    showSignin();
  }
}

boot();
