// Seed 003's index.html in headless Chromium (playwright-core): two people
// open the page, press "start", chat both ways over wss://, and one presses
// "Stop". Run by TestSeed003 (internal/seedtest/seed003_test.go):
//
//   node seed003-page.mjs PAGE_URL SPKI_HASH OUTDIR
//
// PAGE_URL is the page as a file:// URL, its WebSocket URL already replaced
// by the test (the post: "replace the right string in the index.html
// file ... run the index.html file in any browser (no need for a
// webserver)"). SPKI_HASH is the base64 SHA-256 of the gateway
// certificate's public key: Chromium accepts that certificate, issued by
// the gateway's local CA, and no other. Screenshots go to OUTDIR.
//
// At two points it asks the Go test to check the connections table: it
// prints "CHECK connected" (both pages connected) and "CHECK stopped" (one
// pressed Stop) and waits for "ok" on stdin. Its last line on stdout is
// "E2E PASSED" when every check passed; otherwise it exits 1.
//
// Environment: SWITCHBOARD_CHROMIUM, the browser (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [pageURL, spki, outDir] = process.argv.slice(2);
if (!pageURL || !spki || !outDir) {
  console.error('usage: node seed003-page.mjs PAGE_URL SPKI_HASH OUTDIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const WAIT = 20_000;
const log = (...a) => console.error(...a);
const check = (cond, msg) => {
  if (!cond) throw new Error(`check failed: ${msg}`);
};

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what) {
  console.log(`CHECK ${what}`);
  const { value, done } = await stdin.next();
  check(!done && value.trim() === 'ok', `the Go test's check "${what}": ${done ? 'no answer' : value}`);
}

const browser = await chromium.launch({
  executablePath: process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--ignore-certificate-errors-spki-list=${spki}`,
  ],
});

const problems = [];
async function person(name) {
  const context = await browser.newContext({ viewport: { width: 800, height: 400 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  await page.goto(pageURL);
  return { name, page };
}

// chat is the text of the page's chat box.
const chat = (p) => p.page.locator('#chat-box').textContent();

async function waitChat(p, text) {
  try {
    await p.page.waitForFunction((t) => document.getElementById('chat-box').textContent.includes(t), text, { timeout: WAIT });
  } catch (e) {
    throw new Error(`${p.name}: ${JSON.stringify(text)} did not appear in the chat box (it holds ${JSON.stringify(await chat(p))})`);
  }
}

async function say(p, text) {
  await p.page.fill('#message', text);
  await p.page.getByRole('button', { name: 'Send' }).click();
  check((await p.page.inputValue('#message')) === '', `${p.name}: the message field was not cleared after Send`);
}

let failed = false;
try {
  const alice = await person('alice');
  const bob = await person('bob');

  for (const p of [alice, bob]) {
    await p.page.getByRole('button', { name: 'start' }).click();
    // The page says "Connected!" on open, "Disconnected!" on close (also
    // when the handshake or the TLS check fails).
    await p.page.waitForFunction(() => /Connected!|Disconnected!/.test(document.getElementById('chat-box').textContent));
    const text = await chat(p);
    check(text === 'Connected!', `${p.name}: the page could not connect: its chat box holds ${JSON.stringify(text)}`);
  }
  log('both pages connected over wss://');
  await ask('connected');

  // The page sends {"message": text}; the message function sends that JSON
  // to every stored connection, and the page shows it as it comes.
  await say(alice, 'Hello from Alice');
  for (const p of [alice, bob]) await waitChat(p, '{"message":"Hello from Alice"}');
  await say(bob, 'Hi Alice, Bob here');
  for (const p of [alice, bob]) await waitChat(p, '{"message":"Hi Alice, Bob here"}');
  log('chatted both ways');
  await alice.page.screenshot({ path: join(outDir, 'alice.png') });
  await bob.page.screenshot({ path: join(outDir, 'bob.png') });

  // "Stop" closes the socket: the page says so, and $disconnect removes it.
  await bob.page.getByRole('button', { name: 'Stop' }).click();
  await waitChat(bob, 'Disconnected!');
  await ask('stopped');
  await say(alice, 'Anyone there?');
  await waitChat(alice, '{"message":"Anyone there?"}');
  check(!(await chat(bob)).includes('Anyone there?'), 'bob received a message after pressing Stop');
  await bob.page.screenshot({ path: join(outDir, 'bob-stopped.png') });
  check(problems.length === 0, `problems in the pages:\n  ${problems.join('\n  ')}`);
} catch (e) {
  failed = true;
  log(e.stack || String(e));
} finally {
  await browser.close();
}
if (failed) process.exit(1);
console.log('E2E PASSED');
process.exit(0);
