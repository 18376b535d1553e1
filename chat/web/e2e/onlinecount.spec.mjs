// Browser test of the online list's count when the getOnlineUsers reply
// is cut at its limit (docs/protocol.md, "Lists that are not live"): the
// user of the UI, whose name sorts after those listed, is among the
// reply's total and not among its users, and is counted once. Run by
// chat/web/onlinecount_browser_test.go on a dev stack:
//
//   node chat/web/e2e/onlinecount.spec.mjs http://127.0.0.1:PORT/ OUTDIR
//
// The UI's getOnlineUsers limit is set to 2 before app.js runs
// (window.switchboardListLimit); Amy and Bob are plain WebSocket
// connections opened from a second page, Zoe uses the UI.
// The last line is "E2E PASSED" when all is well.
import { join } from 'node:path';
import { check, launch, log, openPage, reportFailure, specArgs, started } from './harness.mjs';

const { baseURL, outDir } = specArgs('onlinecount.spec.mjs');
const WAIT = 20_000;
const TENANT = 'acme';
const browser = await launch();
const problems = [];

function newPage(name, init) {
  return openPage(browser, problems, name, { wait: WAIT, init });
}

let exitCode = 0;
try {
  const driver = await newPage('bots');
  await driver.goto(baseURL);
  await driver.locator('#signin-name').waitFor();
  const connect = (userId, username) =>
    driver.evaluate(
      async ([userId, username, tenantId]) => {
        const res = await fetch('/dev-token', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ userId, username, tenantId }),
        });
        const { url, token } = await res.json();
        const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new Error(`${userId}: the connection failed`));
        });
        (window.bots ||= []).push(ws);
      },
      [userId, username, TENANT],
    );
  log('step: Amy and Bob online');
  await connect('amy', 'Amy');
  await connect('bob', 'Bob');

  log('step: Zoe signs in: the list of 2 (Amy, Bob) and Zoe, 3 online');
  const zoe = await newPage('Zoe', () => (window.switchboardListLimit = 2));
  await zoe.goto(baseURL);
  await zoe.locator('#signin-name').waitFor();
  await zoe.fill('#signin-name', 'Zoe');
  await zoe.fill('#signin-tenant', TENANT);
  await zoe.click('#signin-submit');
  await zoe.locator('#conn[data-state="connected"]').waitFor();
  await zoe.locator('#online-list .online-name', { hasText: 'Bob' }).waitFor();
  const count = await zoe.locator('#online-count').textContent();
  const names = await zoe.locator('#online-list .online-user').count();
  const more = await zoe.locator('#online-list .online-more').count();
  await zoe.screenshot({ path: join(outDir, 'online-count.png') });
  check(count === '3', `the online count: ${count}, want 3 (Amy, Bob and Zoe)`);
  check(names === 3 && more === 0, `the list: ${names} people and ${more} "more" lines, want Amy, Bob, Zoe and none`);

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
