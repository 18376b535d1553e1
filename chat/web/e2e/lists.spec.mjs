// Browser test of the UI's lists above the server's thresholds (docs/
// protocol.md, "Lists that are not live"), driven by playwright-core. Run by
// chat/web/lists_browser_test.go on a dev stack that announces joins and
// leaves in rooms of at most 2 connections and presence in workspaces of
// at most 3:
//
//   node chat/web/e2e/lists.spec.mjs http://127.0.0.1:PORT/ OUTDIR
//
// Alice uses the UI; Bob, Carol, Dave, Erin and Frank are plain WebSocket
// connections opened from a second page (bots), with tokens from the dev
// stack's POST /dev-token. The UI's refresh period is set to REFRESH_MS
// before app.js runs (window.switchboardListRefreshMs); every wait is for
// the page to show something (playwright's waitFor), never a sleep.
// The last line is "E2E PASSED" when all is well.
import { join } from 'node:path';
import { check, launch, log, openPage, reportFailure, specArgs, started } from './harness.mjs';

const { baseURL, outDir } = specArgs('lists.spec.mjs');
const WAIT = 20_000;
const REFRESH_MS = 800; // "updated every second"
const TENANT = 'acme';

const browser = await launch();
const problems = [];

function newPage(name, { refreshMs } = {}) {
  const init = refreshMs ? (ms) => (window.switchboardListRefreshMs = ms) : undefined;
  return openPage(browser, problems, name, { wait: WAIT, init, arg: refreshMs });
}

let exitCode = 0;
try {
  const alice = await newPage('Alice', { refreshMs: REFRESH_MS });
  await alice.goto(baseURL);
  await alice.locator('#signin-name').waitFor();
  await alice.fill('#signin-name', 'Alice');
  await alice.fill('#signin-tenant', TENANT);
  await alice.click('#signin-submit');
  await alice.locator('#conn[data-state="connected"]').waitFor();

  // The bots' page: the UI's page, signed in as nobody; its WebSockets
  // are the bots.
  const driver = await newPage('bots');
  await driver.goto(baseURL);
  await driver.locator('#signin-name').waitFor();
  await driver.evaluate((tenantId) => {
    const bots = new Map();
    let seq = 0;
    window.botConnect = async (userId, username) => {
      const res = await fetch('/dev-token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ userId, username, tenantId }),
      });
      const { url, token } = await res.json();
      const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
      const pending = new Map();
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        const p = f.requestId && pending.get(f.requestId);
        if (!p) return;
        pending.delete(f.requestId);
        if (f.type === 'success') p.resolve(f.data);
        else p.reject(new Error(`${f.code}: ${f.error}`));
      };
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error(`${userId}: the connection failed`));
      });
      bots.set(userId, { ws, pending });
    };
    window.botDo = (userId, action, data) => {
      const b = bots.get(userId);
      const requestId = `${userId}-${++seq}`;
      return new Promise((resolve, reject) => {
        b.pending.set(requestId, { resolve, reject });
        b.ws.send(JSON.stringify({ action, data, requestId }));
      });
    };
    window.botClose = (userId) => {
      bots.get(userId).ws.close();
      bots.delete(userId);
    };
  }, TENANT);
  const connect = (userId, username) => driver.evaluate(([u, n]) => window.botConnect(u, n), [userId, username]);
  const botDo = (userId, action, data) => driver.evaluate(([u, a, d]) => window.botDo(u, a, d), [userId, action, data]);
  const close = (userId) => driver.evaluate((u) => window.botClose(u), userId);

  const members = alice.locator('#room-members');
  const membersTitle = () => members.getAttribute('title');
  const listsLive = () => alice.evaluate(() => window.switchboardUI.listsLive());
  const onlineName = (name) => alice.locator('#online-list .online-name', { hasText: name });
  const waitMembers = async (text, what) => {
    log('wait:', what);
    await alice.locator('#room-members', { hasText: text }).waitFor();
  };

  log('step: Alice opens a room of her own: the lists are live');
  await alice.click('#new-room-btn');
  await alice.fill('#new-room-name', 'Big');
  await alice.click('#new-room-submit');
  await alice.locator('#room-name', { hasText: 'Big' }).waitFor();
  await waitMembers(/^1 person here$/, 'Alice alone in the room');
  const roomId = await alice.evaluate(() => JSON.parse(sessionStorage.getItem('sb.active')));
  check(typeof roomId === 'string' && roomId.length > 0, `the open room's id: ${roomId}`);
  let live = await listsLive();
  check(live.online && live.room && !live.refreshing, `a room of 1 in a workspace of 1: lists live, nothing refreshed (${JSON.stringify(live)})`);

  log('step: Bob joins (2 connections): announced');
  await connect('bob', 'Bob');
  await botDo('bob', 'joinRoom', { roomId });
  await waitMembers(/^2 people here$/, 'Bob, announced');
  await onlineName('Bob').waitFor();

  log('step: Carol joins (3 connections): not announced; her next message says so');
  await connect('carol', 'Carol');
  await onlineName('Carol').waitFor(); // the workspace's third connection: announced
  const carolJoin = await botDo('carol', 'joinRoom', { roomId });
  check(carolJoin.announced === false, `Carol's joinRoom reply: ${JSON.stringify(carolJoin)}, want announced: false`);
  check((await members.textContent()) === '2 people here', 'nothing told Alice of Carol yet');
  await botDo('carol', 'sendMessage', { roomId, content: 'hello from Carol' });
  await alice.locator('#messages .msg .content', { hasText: 'hello from Carol' }).waitFor();
  await waitMembers(/^3 people here · updated every second$/, 'the members refreshed after a message that says announced: false');
  check((await membersTitle()).includes('Carol'), 'Carol is among the members');
  live = await listsLive();
  check(!live.room && live.refreshing, `the room is not live and refreshed: ${JSON.stringify(live)}`);
  await alice.screenshot({ path: join(outDir, 'lists-room-not-live.png') });

  log('step: Dave joins, Carol leaves, above the threshold: the count follows without switching rooms');
  await connect('dave', 'Dave');
  await botDo('dave', 'joinRoom', { roomId });
  await waitMembers(/^4 people here · updated every second$/, 'Dave, by the refresh');
  check((await membersTitle()).includes('Dave'), 'Dave is among the members');
  await botDo('carol', 'leaveRoom', { roomId });
  await waitMembers(/^3 people here · updated every second$/, 'Carol gone, by the refresh');
  check(!(await membersTitle()).includes('Carol'), `Carol is no longer among the members: ${await membersTitle()}`);

  log('step: the workspace above 3 connections: a room_update says presence is not announced');
  check((await onlineName('Dave').count()) === 0, 'Dave (the 4th connection) was not announced online');
  check(await alice.locator('#online-note').isHidden(), 'no note while the online list is live');
  await botDo('bob', 'createRoom', { name: 'Another' });
  await alice.locator('#room-list .room-item', { hasText: 'Another' }).waitFor();
  await onlineName('Dave').waitFor();
  await alice.locator('#online-note', { hasText: 'updated every second' }).waitFor();
  check(!(await listsLive()).online, 'the online list is not live');

  log('step: Erin connects and disconnects: the online list follows');
  await connect('erin', 'Erin');
  await onlineName('Erin').waitFor();
  await close('erin');
  await onlineName('Erin').waitFor({ state: 'detached' });
  await alice.screenshot({ path: join(outDir, 'lists-online-not-live.png') });

  log('step: a hidden tab refreshes nothing, and catches up when shown');
  const setHidden = (hidden) =>
    alice.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { value: h, configurable: true });
      Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
  await setHidden(true);
  live = await listsLive();
  check(!live.refreshing, `hidden: no refresh armed (${JSON.stringify(live)})`);
  await connect('frank', 'Frank');
  await botDo('frank', 'joinRoom', { roomId });
  live = await listsLive();
  check(!live.refreshing, `hidden: still no refresh armed (${JSON.stringify(live)})`);
  await setHidden(false);
  await onlineName('Frank').waitFor();
  await waitMembers(/^4 people here · updated every second$/, 'Frank, once shown');
  check((await listsLive()).refreshing, 'shown: the refresh is armed again');

  log('step: the room back to 2 connections: live again, no more refreshes of it');
  await botDo('frank', 'leaveRoom', { roomId });
  await botDo('dave', 'leaveRoom', { roomId });
  await waitMembers(/^2 people here$/, 'the room of 2 live again');
  check((await listsLive()).room, 'the room is live again');

  check(problems.length === 0, `problems in the pages:\n  ${problems.join('\n  ')}`);
  log(`total ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log('E2E PASSED');
} catch (err) {
  exitCode = 1;
  await reportFailure(err, browser, outDir, problems);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
