// Browser test of the dev UI: two people chat in Chromium, driven by
// playwright-core. Run by web/browser_test.go:
//
//   node chat/web/e2e/chat.spec.mjs http://127.0.0.1:PORT/ OUTDIR
//
// It talks to the Go test over stdio to restart the server: it prints STOP
// and waits for a line on stdin ("stopped") once the dev stack is closed,
// then START and waits for "started" once a new stack serves the same
// address and data directory. Screenshots go to OUTDIR. The last line on
// stdout is "E2E PASSED" when every check passed; on failure it exits 1.
//
// Environment: SWITCHBOARD_CHROMIUM, the browser (default /usr/bin/chromium).
import { join } from 'node:path';
import { check, command, launch, log, reportFailure, specArgs, started } from './harness.mjs';

const { baseURL, outDir } = specArgs('chat.spec.mjs');
const WAIT = 15_000;
let stepStarted = Date.now();
const timings = [];

function step(name) {
  const now = Date.now();
  if (timings.length) timings[timings.length - 1].ms = now - stepStarted;
  timings.push({ name, ms: 0 });
  stepStarted = now;
  log('step:', name);
}

// --- the browser ------------------------------------------------------------------

const browser = await launch();

const problems = []; // page errors, dialogs, unexpected console errors
let serverDown = false; // while true, failed loads are expected

// Console errors that are expected while the server is down or a page is
// offline: failed WebSocket handshakes and token fetches.
const expectedWhileDown = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_RESET|Failed to fetch|Failed to load resource/;

async function newPerson(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('dialog', async (d) => {
    problems.push(`${name}: a ${d.type()} dialog opened: ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if ((serverDown || person?.offline) && expectedWhileDown.test(text)) return;
    problems.push(`${name}: console error: ${text}`);
  });
  const person = { name, context, page, offline: false };
  return person;
}

async function shot(person, file) {
  await person.page.screenshot({ path: join(outDir, file) });
  log('screenshot', file);
}

async function signIn(p, tenant, screenshot) {
  await p.page.goto(baseURL);
  await p.page.locator('#signin-name').waitFor();
  if (screenshot) {
    await p.page.fill('#signin-name', p.name);
    await shot(p, screenshot);
  }
  await p.page.fill('#signin-name', p.name);
  await p.page.fill('#signin-tenant', tenant);
  await p.page.click('#signin-submit');
  await waitConn(p, 'connected');
}

async function waitConn(p, state, timeout = WAIT) {
  await p.page.locator(`#conn[data-state="${state}"]`).waitFor({ timeout });
}

function msgByText(p, text) {
  return p.page.locator('#messages .msg:not(.pending) .content', { hasText: text });
}

async function waitMessage(p, text) {
  await p.page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages .msg:not(.pending) .content')].some((c) => c.textContent === t),
    text,
    { timeout: WAIT },
  );
}

async function countMessages(p, text) {
  return p.page.evaluate(
    (t) => [...document.querySelectorAll('#messages .msg .content')].filter((c) => c.textContent === t).length,
    text,
  );
}

async function send(p, text) {
  await p.page.fill('#composer-input', text);
  await p.page.press('#composer-input', 'Enter');
}

// messageIds lists the ids of the (stored) messages shown, in order.
async function messageIds(p) {
  return p.page.evaluate(() =>
    [...document.querySelectorAll('#messages .msg[data-message-id]')]
      .map((li) => li.dataset.messageId)
      .filter((id) => !id.startsWith('~')),
  );
}

function assertNoDuplicates(ids, who) {
  const seen = new Set();
  for (const id of ids) {
    check(!seen.has(id), `${who} shows message ${id} twice`);
    seen.add(id);
  }
  const sorted = [...ids].sort();
  check(JSON.stringify(sorted) === JSON.stringify(ids), `${who} shows messages out of order`);
}

async function onlineNames(p) {
  return p.page.evaluate(() => [...document.querySelectorAll('#online-list .online-name')].map((n) => n.textContent));
}

async function waitOnline(p, name) {
  await p.page.waitForFunction(
    (n) => [...document.querySelectorAll('#online-list .online-name')].some((x) => x.textContent === n),
    name,
    { timeout: WAIT },
  );
}

// --- the scenario -------------------------------------------------------------------

let exitCode = 0;
try {
  const tenant = `e2e-${Date.now().toString(36)}`;
  const alice = await newPerson('Alice');
  const bob = await newPerson('Bob');

  step('sign in');
  await signIn(alice, tenant, '01-signin.png');
  await shot(alice, '02-welcome.png');
  await signIn(bob, tenant);

  step('create a room (Alice) and join it (Bob)');
  const roomName = 'e2e-room';
  const roomDesc = 'Browser test <b>room</b> <script>alert(2)</script>';
  await alice.page.click('#new-room-btn');
  await alice.page.fill('#new-room-name', roomName);
  await alice.page.fill('#new-room-desc', roomDesc);
  await shot(alice, '03-new-room-form.png');
  await alice.page.click('#new-room-submit');
  await alice.page.locator('#room-view').waitFor();
  check((await alice.page.textContent('#room-name')).includes(roomName), 'Alice sees the room name in the header');
  check((await alice.page.textContent('#room-desc')) === roomDesc, 'the description is shown as text');
  // Bob sees the new room appear (room_update) and joins it.
  const bobRoom = bob.page.locator('#room-list .room-item', { hasText: roomName });
  await bobRoom.waitFor();
  check((await bobRoom.locator('.join-pill').count()) === 1, 'Bob sees a Join pill on a room he has not joined');
  await bobRoom.click();
  await bob.page.locator('#room-view').waitFor();

  step('presence');
  await waitOnline(alice, 'Bob');
  await waitOnline(bob, 'Alice');
  await alice.page.locator('#room-members', { hasText: '2 people here' }).waitFor();
  await bob.page.locator('#room-members', { hasText: '2 people here' }).waitFor();

  step('typing indicator');
  await alice.page.click('#composer-input');
  await alice.page.keyboard.type('Hi Bob', { delay: 40 });
  await bob.page.locator('#typing.visible', { hasText: 'Alice is typing…' }).waitFor();
  await bob.page.waitForTimeout(450); // the fade-in
  await shot(bob, '04-typing.png');
  await alice.page.press('#composer-input', 'Enter');
  await waitMessage(bob, 'Hi Bob');
  await bob.page.locator('#typing:not(.visible)').waitFor();

  step('chat both ways');
  await send(bob, 'Hello Alice!');
  await waitMessage(alice, 'Hello Alice!');
  // Bob starts typing and stops: Alice's indicator shows, then fades.
  await bob.page.click('#composer-input');
  await bob.page.keyboard.type('hmm', { delay: 40 });
  await alice.page.locator('#typing.visible', { hasText: 'Bob is typing…' }).waitFor();
  await alice.page.locator('#typing:not(.visible)').waitFor({ timeout: 10_000 });
  await bob.page.fill('#composer-input', '');
  await send(alice, 'Line one\nline two');
  await waitMessage(bob, 'Line one\nline two');
  await shot(alice, '05-chat.png');

  step('edit and delete');
  // Bob has no edit or delete buttons on Alice's messages.
  check(
    (await bob.page.locator('#messages .msg:not(.own) [data-action]').count()) === 0,
    "Bob must not get edit/delete buttons on Alice's messages",
  );
  const hiBobId = await alice.page
    .locator('#messages .msg.own', { has: alice.page.locator('.content', { hasText: /^Hi Bob$/ }) })
    .getAttribute('data-message-id');
  const hiBob = alice.page.locator(`#messages .msg[data-message-id="${hiBobId}"]`);
  await hiBob.hover();
  await hiBob.locator('[data-action=edit]').click();
  await shot(alice, '06-editing.png');
  await hiBob.locator('textarea').fill('Hi Bob (edited)');
  await hiBob.locator('textarea').press('Enter');
  await waitMessage(bob, 'Hi Bob (edited)');
  const edited = bob.page.locator('#messages .msg', { has: bob.page.locator('.content', { hasText: 'Hi Bob (edited)' }) });
  check((await edited.locator('.edited').count()) === 1, 'Bob sees the (edited) mark');
  check((await countMessages(bob, 'Hi Bob')) === 0, 'the old text is gone on Bob\'s side');

  await send(alice, 'to be deleted');
  await waitMessage(bob, 'to be deleted');
  const doomedId = await alice.page.locator('#messages .msg:not(.pending)', { has: alice.page.locator('.content', { hasText: 'to be deleted' }) }).getAttribute('data-message-id');
  const doomed = alice.page.locator(`#messages .msg[data-message-id="${doomedId}"]`);
  await doomed.hover();
  await doomed.locator('[data-action=delete]').click();
  await doomed.locator('[data-action=confirm-delete]').click();
  await bob.page.locator(`#messages .msg.deleted[data-message-id="${doomedId}"]`, { hasText: 'This message was deleted.' }).waitFor();
  await alice.page.locator(`#messages .msg.deleted[data-message-id="${doomedId}"]`).waitFor();
  check((await countMessages(bob, 'to be deleted')) === 0, 'the deleted text is gone on Bob\'s side');
  await shot(bob, '07-edited-and-deleted.png');

  step('HTML in messages is text');
  const xss = '<img src=x onerror=alert(1)>';
  await send(alice, xss);
  await waitMessage(bob, xss);
  await waitMessage(alice, xss);
  for (const p of [alice, bob]) {
    check((await p.page.locator('#messages img').count()) === 0, `${p.name}: no <img> element in the message list`);
    check((await p.page.locator('#room-desc b, #room-desc script').count()) === 0, `${p.name}: no element from the room description`);
  }
  await bob.page.waitForTimeout(300); // a dialog would have opened by now
  check(problems.filter((x) => x.includes('dialog')).length === 0, 'no dialog opened');
  await shot(bob, '08-html-as-text.png');

  step('scroll back through history');
  const N = 60;
  // The backlog goes out through the page's own client (window.switchboard),
  // one request at a time: what this step tests is loading it back, and
  // "chat both ways" tests the composer. The last one still uses it.
  await alice.page.evaluate(async (n) => {
    const roomId = document.querySelector('#room-list .room-item.active').dataset.roomId;
    for (let i = 1; i < n; i++) await window.switchboard.sendMessage(roomId, `backlog ${String(i).padStart(2, '0')}`);
  }, N);
  await send(alice, `backlog ${N}`);
  await waitMessage(alice, `backlog ${N}`);
  await waitMessage(bob, `backlog ${N}`);
  await alice.page.locator('#messages .msg.pending').first().waitFor({ state: 'detached' }).catch(() => {});
  // A reload keeps Bob signed in and in the room; it loads the newest 50.
  await bob.page.reload();
  await waitConn(bob, 'connected');
  await waitMessage(bob, `backlog ${N}`);
  check((await countMessages(bob, 'Hello Alice!')) === 0, 'after a reload only the newest page is loaded');
  await bob.page.locator('#load-older').waitFor();
  await bob.page.evaluate(() => (document.getElementById('scroller').scrollTop = 0));
  await waitMessage(bob, 'Hi Bob (edited)');
  await bob.page.locator('#history-start:not([hidden])').waitFor();
  await bob.page.evaluate(() => (document.getElementById('scroller').scrollTop = 0));
  await shot(bob, '09-history-start.png');
  await bob.page.evaluate(() => {
    const s = document.getElementById('scroller');
    s.scrollTop = s.scrollHeight;
  });
  const idsA0 = await messageIds(alice);
  const idsB0 = await messageIds(bob);
  assertNoDuplicates(idsA0, 'Alice');
  assertNoDuplicates(idsB0, 'Bob');
  check(JSON.stringify(idsA0) === JSON.stringify(idsB0), `Alice and Bob show the same messages (${idsA0.length} vs ${idsB0.length})`);
  log(`${idsA0.length} messages on both sides`);

  step('server restart: both pages reconnect');
  serverDown = true;
  await command('STOP', 'stopped');
  await waitConn(alice, 'reconnecting');
  await waitConn(bob, 'reconnecting');
  await shot(alice, '10-reconnecting.png');
  // Bob's browser goes offline: he stays away while Alice comes back.
  bob.offline = true;
  await bob.context.setOffline(true);
  await waitConn(bob, 'offline');
  // Alice sends while the server is down: it goes out once she is back.
  await send(alice, 'sent while the server was down');
  await alice.page.locator('#messages .msg.pending', { hasText: 'sent while the server was down' }).waitFor();
  await shot(alice, '11-sending-while-down.png');
  await command('START', 'started');
  await waitConn(alice, 'connected', 30_000);
  serverDown = false;
  await waitMessage(alice, 'sent while the server was down');
  await alice.page.locator('#messages .msg.pending').first().waitFor({ state: 'detached' });
  await send(alice, 'sent while Bob is offline');
  await waitMessage(alice, 'sent while Bob is offline');
  check(
    (await countMessages(bob, 'sent while the server was down')) === 0,
    'Bob cannot have the message yet: he is offline',
  );
  await shot(bob, '12-offline.png');

  step('resume: Bob comes back and gets what he missed, once');
  await bob.context.setOffline(false);
  await waitConn(bob, 'connected', 30_000);
  bob.offline = false;
  await waitMessage(bob, 'sent while the server was down');
  await waitMessage(bob, 'sent while Bob is offline');
  // Bob sends right after he is back; Alice gets it.
  await send(bob, 'Bob is back');
  await waitMessage(alice, 'Bob is back');
  await waitMessage(bob, 'Bob is back');
  await waitOnline(alice, 'Bob');
  await waitOnline(bob, 'Alice');
  await alice.page.waitForTimeout(500); // let any duplicate arrive
  for (const p of [alice, bob]) {
    for (const t of ['sent while the server was down', 'sent while Bob is offline', 'Bob is back', 'Hello Alice!']) {
      const n = await countMessages(p, t);
      check(n === 1, `${p.name} shows ${JSON.stringify(t)} ${n} times, want once`);
    }
  }
  const idsA = await messageIds(alice);
  const idsB = await messageIds(bob);
  assertNoDuplicates(idsA, 'Alice');
  assertNoDuplicates(idsB, 'Bob');
  check(JSON.stringify(idsA) === JSON.stringify(idsB), `after the restart Alice and Bob show the same messages (${idsA.length} vs ${idsB.length})`);
  check(idsA.length === idsA0.length + 3, `3 messages were added across the restart (had ${idsA0.length}, now ${idsA.length})`);
  check(JSON.stringify(idsA.slice(0, idsA0.length)) === JSON.stringify(idsA0), 'no message from before the restart was lost');
  await shot(alice, '13-resumed-alice.png');
  await shot(bob, '14-resumed-bob.png');

  step('a private room, unread counts, leaving');
  await alice.page.click('#new-room-btn');
  await alice.page.fill('#new-room-name', 'secret-plans');
  await alice.page.check('#new-room-form input[name=visibility][value=private]');
  await alice.page.fill('#new-room-members', 'bob');
  await alice.page.click('#new-room-submit');
  await alice.page.locator('#room-name', { hasText: 'secret-plans' }).waitFor();
  check((await alice.page.locator('#room-name .lock').count()) === 1, 'a private room shows a lock');
  const secret = bob.page.locator('#room-list .room-item', { hasText: 'secret-plans' });
  await secret.waitFor(); // Bob is a member: he sees it
  await secret.click();
  await bob.page.locator('#room-name', { hasText: 'secret-plans' }).waitFor();
  await bob.page.locator('#room-list .room-item', { hasText: roomName }).click();
  await bob.page.locator('#room-name', { hasText: roomName }).waitFor();
  await send(alice, 'psst');
  await secret.locator('.unread', { hasText: '1' }).waitFor();
  await shot(bob, '15-private-room-unread.png');
  await secret.click();
  await waitMessage(bob, 'psst');
  check((await secret.locator('.unread').count()) === 0, 'opening the room clears its unread count');
  await bob.page.click('#leave-room');
  await bob.page.locator('#welcome:not([hidden])').waitFor();
  await secret.locator('.join-pill').waitFor();
  await alice.page.locator('#room-members', { hasText: '1 person here' }).waitFor();

  step('no errors');
  const names = await onlineNames(alice);
  check(names.includes('Alice') && names.includes('Bob'), `Alice's online list: ${names.join(', ')}`);
  check(problems.length === 0, `problems in the pages:\n  ${problems.join('\n  ')}`);
  step('done');
  timings.pop();
  for (const t of timings) log(`  ${t.name}: ${(t.ms / 1000).toFixed(1)}s`);
  log(`total ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log('E2E PASSED');
} catch (err) {
  exitCode = 1;
  await reportFailure(err, browser, outDir, problems);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
