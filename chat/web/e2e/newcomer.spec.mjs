// Browser test of what a newcomer meets in the dev UI (issue 15, "the
// first ten minutes"), driven by playwright-core. Run by
// chat/web/newcomer_browser_test.go, which has created a room "Lobby" as
// @carol in the default tenant (the README's CLI steps) before it starts:
//
//   node chat/web/e2e/newcomer.spec.mjs http://127.0.0.1:PORT/ OUTDIR
//
// STOP / START on stdout ask the Go test to stop and start the server
// (it answers "stopped" / "started" on stdin). Screenshots at 1280 and
// 390 px go to OUTDIR. The last line is "E2E PASSED" when all is well.
import { join } from 'node:path';
import { check, command, launch, log, reportFailure, specArgs, started } from './harness.mjs';

const { baseURL, outDir } = specArgs('newcomer.spec.mjs');
const WAIT = 20_000;

const browser = await launch();

const problems = [];
let serverDown = false;
const expectedWhileDown = /WebSocket connection to .* failed|ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|Failed to fetch|Failed to load resource/;

async function newPerson(name, width = 1280, height = 800) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`${name}: a dialog opened: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && !(serverDown && expectedWhileDown.test(m.text()))) problems.push(`${name}: console error: ${m.text()}`);
  });
  return { name, context, page };
}

async function shot(p, file) {
  await p.page.screenshot({ path: join(outDir, file) });
  log('screenshot', file);
}

// signIn signs in with the name only: the workspace is what the page proposes.
async function signIn(p) {
  await p.page.goto(baseURL);
  await p.page.locator('#signin-name').waitFor();
  await p.page.fill('#signin-name', p.name);
  await p.page.click('#signin-submit');
  await p.page.locator('#conn[data-state="connected"]').waitFor();
}

const room = (p, tag) => p.page.locator('#room-list .room-item', { has: p.page.locator('.room-tag', { hasText: tag }) });
const notices = (p) => p.page.evaluate(() => [...document.querySelectorAll('#messages .notice')].map((n) => n.textContent));

let exitCode = 0;
try {
  const alice = await newPerson('Alice');
  const bob = await newPerson('Bob');

  log('step: the sign-in proposes the workspace of switchboard token');
  await alice.page.goto(baseURL);
  await alice.page.locator('#signin-name').waitFor();
  const proposed = await alice.page.inputValue('#signin-tenant');
  check(proposed === 'default', `the sign-in proposes workspace ${JSON.stringify(proposed)}, want "default" (switchboard token's --tenant default)`);
  await signIn(alice);
  await alice.page.locator('#room-list .room-item', { hasText: 'Lobby' }).waitFor(); // made from the CLI

  log('step: rooms of the same name are told apart');
  await alice.page.click('#new-room-btn');
  await alice.page.fill('#new-room-name', 'Lobby');
  await alice.page.click('#new-room-submit');
  await alice.page.locator('#room-name', { hasText: 'Lobby' }).waitFor();
  await room(alice, 'by you').waitFor();
  await room(alice, 'by @carol').waitFor();
  check((await alice.page.locator('#room-name .room-tag').textContent()) === 'by you', 'the open room\'s header says whose Lobby it is');

  log('step: URLs are links, nothing else is');
  const text = 'docs at https://example.com/a_(b)?q=1. and javascript:alert(1) or <b>bold</b> http://x.test/path,';
  await alice.page.fill('#composer-input', text);
  await alice.page.press('#composer-input', 'Enter');
  const content = alice.page.locator('#messages .msg:not(.pending) .content', { hasText: 'docs at' });
  await content.waitFor();
  const links = await content.evaluate((c) =>
    [...c.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target })),
  );
  check(links.length === 2, `links: ${JSON.stringify(links)}`);
  check(links[0].href === 'https://example.com/a_(b)?q=1' && links[0].text === 'https://example.com/a_(b)?q=1', `first link ${JSON.stringify(links[0])}`);
  check(links[1].href === 'http://x.test/path' && links[1].text === 'http://x.test/path', `second link ${JSON.stringify(links[1])}`);
  check(links.every((l) => l.rel === 'noopener noreferrer' && l.target === '_blank'), `rel/target: ${JSON.stringify(links)}`);
  check((await content.textContent()) === text, 'the text is shown as sent');
  check((await content.locator('b').count()) === 0, 'HTML in a message stays text');

  log('step: the composer counts UTF-8 bytes near the 4 KB limit');
  await alice.page.fill('#composer-input', 'x'.repeat(3000));
  check(await alice.page.locator('#composer-count').isHidden(), 'no counter far from the limit');
  await alice.page.fill('#composer-input', 'é'.repeat(1800)); // 3600 bytes, 1800 characters
  await alice.page.locator('#composer-count', { hasText: '496 bytes left' }).waitFor();
  await alice.page.fill('#composer-input', '€'.repeat(1400)); // 4200 bytes
  await alice.page.locator('#composer-count.over', { hasText: '104 bytes over the limit of 4096' }).waitFor();
  check(await alice.page.locator('#send-btn').isDisabled(), 'send is disabled over the limit');
  await shot(alice, 'newcomer-1280-alice.png');
  await alice.page.fill('#composer-input', '');
  check(await alice.page.locator('#composer-count').isHidden(), 'the counter goes away with the draft');

  log('step: a server restart makes no left/joined noise');
  await signIn(bob);
  await room(bob, 'by @alice').click();
  await bob.page.locator('#room-name', { hasText: 'Lobby' }).waitFor();
  await alice.page.locator('#messages .notice', { hasText: 'Bob joined the room' }).waitFor(); // a real join is news
  await alice.page.locator('#room-members', { hasText: '2 people here' }).waitFor();
  const before = (await notices(alice)).length;
  serverDown = true;
  await command('STOP', 'stopped');
  await alice.page.locator('#conn:not([data-state="connected"])').waitFor();
  await command('START', 'started');
  for (const p of [alice, bob]) await p.page.locator('#conn[data-state="connected"]').waitFor({ timeout: 40_000 });
  serverDown = false;
  // Both are back in the room: a message from Bob reaches Alice.
  await bob.page.fill('#composer-input', 'back again');
  await bob.page.press('#composer-input', 'Enter');
  await alice.page.locator('#messages .msg:not(.pending) .content', { hasText: 'back again' }).waitFor();
  await alice.page.locator('#room-members', { hasText: '2 people here' }).waitFor();
  const after = await notices(alice);
  check(after.length === before, `notices after the restart: ${JSON.stringify(after.slice(before))}`);
  check((await alice.page.evaluate(() => window.switchboardUI.pendingLeftNotices())) === 0, 'a "left the room" notice is still due after the restart');
  const bobNotices = await notices(bob);
  check(!bobNotices.some((n) => /joined the room|left the room/.test(n)), `Bob's notices: ${JSON.stringify(bobNotices)}`);
  // A real leave is still announced (after the grace period).
  await bob.page.click('#leave-room');
  await alice.page.locator('#room-members', { hasText: '1 person here' }).waitFor();
  check((await alice.page.evaluate(() => window.switchboardUI.pendingLeftNotices())) === 1, 'Bob\'s real leave is announced');

  log('step: signing in again restores the rooms one had joined');
  await alice.page.click('#signout-btn');
  await alice.page.locator('#signin-name').waitFor();
  await alice.page.fill('#signin-name', 'Alice');
  await alice.page.click('#signin-submit');
  await alice.page.locator('#conn[data-state="connected"]').waitFor();
  await room(alice, 'by you').and(alice.page.locator('.joined')).waitFor();
  check((await room(alice, 'by you').locator('.join-pill').count()) === 0, 'a room Alice had joined shows "Join" after signing in again');
  check((await room(alice, 'by @carol').locator('.join-pill').count()) === 1, 'a room Alice had not joined shows "Join"');

  log('step: at 390 px the online list is reachable');
  const carol = await newPerson('Carol', 390, 844);
  await signIn(carol);
  await carol.page.locator('#room-list .room-item', { hasText: 'Lobby' }).first().waitFor();
  check(await carol.page.locator('#online-list').isHidden(), 'the online list is folded away at 390 px');
  await shot(carol, 'newcomer-390-carol.png');
  await carol.page.click('#online-toggle');
  for (const n of ['Alice', 'Bob', 'Carol']) await carol.page.locator('#online-list .online-name', { hasText: n }).waitFor();
  check(await carol.page.locator('#online-list').isVisible(), 'the online list opens at 390 px');
  await shot(carol, 'newcomer-390-carol-online.png');
  await carol.page.keyboard.press('Escape');
  check(await carol.page.locator('#online-list').isHidden(), 'Escape folds it away again');
  await room(carol, 'by @alice').click();
  await carol.page.locator('#messages .msg .content', { hasText: 'docs at' }).waitFor();
  await shot(carol, 'newcomer-390-carol-room.png');

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
