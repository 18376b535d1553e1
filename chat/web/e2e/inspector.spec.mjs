// Browser test of the inspector page (issue 15, item 2), driven by
// playwright-core. Run by chat/web/inspector_browser_test.go against a dev
// stack:
//
//   node chat/web/e2e/inspector.spec.mjs http://127.0.0.1:PORT/ OUTDIR
//
// A WebSocket client (a plain WebSocket in a second page of the same
// origin, signed in with a dev token) connects: the inspector lists it
// with its identity and rooms; its frame, the invocation and the reply
// show in the stream; clicking the invocation shows its event JSON;
// the form posts to the client and disconnects it; a burst of connects asks
// for one listing at a time; after a server restart (STOP / START) the
// new server's events show, and a stream refused with 503 is opened
// again. Screenshots at 1280 and 390 px go to OUTDIR. The last line is "E2E PASSED" when all is well.
import { join } from 'node:path';
import { check, command, launch, log, reportFailure, specArgs, started } from './harness.mjs';

const { baseURL, outDir } = specArgs('inspector.spec.mjs');
const WAIT = 20_000;
let serverDown = false; // the pages' failed requests are expected then

const browser = await launch();
const problems = [];

async function newPage(name, width, height = 800) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'en-US', timezoneId: 'UTC' });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (serverDown && /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|Failed to fetch|EventSource|ERR_CONNECTION_RESET|503/.test(m.text())) return;
    problems.push(`${name}: console error: ${m.text()}`);
  });
  return page;
}

async function shot(page, file) {
  await page.screenshot({ path: join(outDir, file), fullPage: true });
  log('screenshot', file);
}

let exitCode = 0;
try {
  const insp = await newPage('inspector', 1280);
  await insp.goto(baseURL + '_inspector/');
  await insp.locator('#status', { hasText: 'live' }).waitFor();
  await insp.locator('#conn-empty').waitFor();

  log('step: a WebSocket client connects: it is listed with its identity');
  const client = await newPage('client', 800);
  await client.goto(baseURL); // the chat UI's origin; nobody signs in there
  const connected = await client.evaluate(async () => {
    const r = await fetch('/dev-token', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId: 'dana', username: 'Dana', tenantId: 'demo' }) });
    const t = await r.json();
    window.got = [];
    window.closeCode = null;
    window.ws = new WebSocket(t.url + '?token=' + encodeURIComponent(t.token));
    window.ws.onmessage = (m) => window.got.push(m.data);
    window.ws.onclose = (e) => { window.closeCode = e.code; };
    await new Promise((ok, fail) => { window.ws.onopen = ok; window.ws.onerror = fail; });
    return true;
  });
  check(connected, 'the client connected');
  const conn = insp.locator('#connections .conn', { hasText: 'userId=dana' });
  await conn.waitFor();
  const connID = (await conn.locator('.conn-id').textContent()).trim();
  check(connID.length > 0, 'the connection has an id');
  await insp.locator('#conn-count', { hasText: '1' }).waitFor();
  await insp.locator('#events .ev-connect', { hasText: 'connected' }).waitFor();

  log('step: it creates a room: its rooms are listed, and the frame shows');
  await client.evaluate(() => window.ws.send(JSON.stringify({ action: 'createRoom', requestId: 'r1', data: { name: 'Inspected' } })));
  await client.waitForFunction(() => window.got.some((m) => m.includes('"requestId":"r1"')));
  await client.evaluate(() => {
    const reply = JSON.parse(window.got.find((m) => m.includes('"requestId":"r1"')));
    window.ws.send(JSON.stringify({ action: 'joinRoom', requestId: 'r2', data: { roomId: reply.data.roomId } }));
  });
  await client.waitForFunction(() => window.got.some((m) => m.includes('"requestId":"r2"')));
  await insp.locator('#events .ev-frameIn', { hasText: 'createRoom' }).waitFor();
  const invRow = insp.locator('#events .ev-invocation', { hasText: 'createRoom' });
  await invRow.waitFor();
  check((await invRow.textContent()).includes('ok'), 'the invocation succeeded');
  await insp.locator('#events .ev-frameOut', { hasText: '"requestId":"r1"' }).waitFor();
  await insp.waitForFunction(() => {
    const dd = [...document.querySelectorAll('#connections .conn dt')].find((d) => d.textContent === 'rooms');
    return dd && dd.nextElementSibling.textContent !== '—';
  });

  log('step: clicking the invocation shows its event JSON');
  await invRow.click();
  await insp.locator('#detail-event', { hasText: '"routeKey": "createRoom"' }).waitFor();
  const ev = await insp.locator('#detail-event').textContent();
  check(ev.includes('"connectionId": "' + connID + '"'), 'the event names the connection');
  check(ev.includes('Inspected'), 'the event carries the body');
  await insp.locator('#detail-response', { hasText: '"statusCode"' }).waitFor();

  log('step: the $connect event has its token redacted');
  await insp.locator('#events .ev-connect').click();
  await insp.locator('#detail-event', { hasText: '"routeKey": "$connect"' }).waitFor();
  const cev = await insp.locator('#detail-event').textContent();
  check(cev.includes('"token": "REDACTED"'), 'the token is redacted');
  check(!/eyJ[A-Za-z0-9_-]{10,}/.test(cev), 'no JWT in the $connect event');

  log('step: filters');
  await insp.fill('#f-route', 'createRoom');
  check(await insp.locator('#events .ev-connect').count() === 0, 'the route filter hides the connect');
  await insp.fill('#f-route', '');
  await insp.check('#f-errors');
  check(await insp.locator('#events .ev').count() === 0, 'no error yet');
  await insp.uncheck('#f-errors');
  await shot(insp, 'inspector-1280.png');

  log('step: posting from the form reaches the client');
  await conn.click();
  await insp.locator('#act-id', { hasText: connID }).waitFor();
  await insp.fill('#act-message', '{"type":"hello","from":"the inspector"}');
  await insp.click('#act-post');
  await insp.locator('#act-result', { hasText: 'posted' }).waitFor();
  await client.waitForFunction(() => window.got.includes('{"type":"hello","from":"the inspector"}'));
  await insp.locator('#events .ev-frameOut', { hasText: 'the inspector' }).waitFor();

  log('step: at 390 px');
  const narrow = await newPage('inspector-390', 390, 844);
  await narrow.goto(baseURL + '_inspector/');
  await narrow.locator('#connections .conn', { hasText: 'userId=dana' }).waitFor();
  await narrow.locator('#events .ev-invocation', { hasText: 'createRoom' }).waitFor();
  const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the page is ${overflow} px wider than the 390 px screen`);
  await narrow.locator('#connections .conn').first().click();
  await narrow.locator('#events .ev-invocation', { hasText: 'createRoom' }).click();
  await narrow.locator('#detail-event', { hasText: 'createRoom' }).waitFor();
  await shot(narrow, 'inspector-390.png');

  log('step: disconnect from the form closes the client');
  await insp.click('#act-disconnect');
  await insp.locator('#act-result', { hasText: 'disconnected' }).waitFor();
  await client.waitForFunction(() => window.closeCode !== null);
  const code = await client.evaluate(() => window.closeCode);
  check(code === 1000, `the client was closed with ${code}, want 1000`);
  await insp.locator('#events .ev-disconnect', { hasText: 'closed 1000' }).waitFor();
  await insp.locator('#conn-empty').waitFor();
  await shot(insp, 'inspector-1280-after.png');

  // Opens n WebSockets from the client page (a new dev token each time).
  const openSockets = (n) => client.evaluate(async (n) => {
    const r = await fetch('/dev-token', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ userId: 'eve', username: 'Eve', tenantId: 'demo' }) });
    const t = await r.json();
    window.many = window.many || [];
    await Promise.all(Array.from({ length: n }, () => new Promise((ok, fail) => {
      const ws = new WebSocket(t.url + '?token=' + encodeURIComponent(t.token));
      window.many.push(ws);
      ws.onopen = ok;
      ws.onerror = fail;
    })));
  }, n);

  log('step: a burst of connects is one listing at a time, not one each');
  await insp.fill('#f-conn', ''); // clicking a connection filtered the events by it
  const listings = [];
  await insp.route('**/_inspector/api/connections', (route) => { listings.push(route); }); // held
  const connectsBefore = await insp.locator('#events .ev-connect').count();
  await openSockets(10);
  await insp.waitForFunction((n) => document.querySelectorAll('#events .ev-connect').length >= n, connectsBefore + 10);
  // Each connect event asked for a listing as it was shown (before this fix
  // each fetched one); wait for the first to reach the route.
  for (let i = 0; listings.length === 0; i++) {
    check(i < 200, 'no listing was asked for');
    await insp.waitForTimeout(100);
  }
  check(listings.length === 1, `${listings.length} listings asked for while one was under way, want 1`);
  for (const route of listings) await route.continue();
  await insp.unroute('**/_inspector/api/connections');
  await insp.locator('#conn-count', { hasText: '10' }).waitFor();
  await client.evaluate(() => { for (const ws of window.many) ws.close(1000); window.many = []; });
  await insp.locator('#conn-empty').waitFor();

  log('step: the server restarts: the page shows the new server\'s events');
  serverDown = true;
  await command('STOP', 'stopped');
  await insp.locator('#status', { hasText: 'reconnecting' }).waitFor();
  await command('START', 'started');
  await insp.locator('#status', { hasText: 'live' }).waitFor({ timeout: 30_000 });
  serverDown = false;
  await openSockets(1);
  const fresh = insp.locator('#connections .conn', { hasText: 'userId=eve' });
  await fresh.waitFor();
  const freshID = (await fresh.locator('.conn-id').textContent()).trim();
  await insp.locator('#events .ev-connect', { hasText: freshID }).waitFor();
  await client.evaluate(() => { for (const ws of window.many) ws.close(1000); });

  log('step: a stream refused once (a server shutting down answers 503) is opened again');
  const late = await newPage('inspector-late', 1280);
  let refusals = 0;
  await late.route('**/_inspector/api/events', (route) => {
    if (refusals++ === 0) return route.fulfill({ status: 503, contentType: 'application/json', body: '{"message":"the server is shutting down"}' });
    return route.continue();
  });
  serverDown = true; // the refused stream is a console error
  await late.goto(baseURL + '_inspector/');
  await late.locator('#status', { hasText: 'live' }).waitFor();
  serverDown = false;
  check(refusals >= 2, `the stream was asked for ${refusals} times`);
  await late.locator('#events .ev-connect', { hasText: freshID }).waitFor();

  check(problems.length === 0, 'problems in the pages:\n  ' + problems.join('\n  '));
  console.log('E2E PASSED');
} catch (err) {
  exitCode = 1;
  await reportFailure(err, browser, outDir, problems);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
