// What every browser spec of chat/web/e2e shares: its arguments (the dev
// stack's URL and the screenshots' directory), a log with the time since
// the start, check, the STOP / START conversation with the Go test that
// runs it (chat/web/browser_test.go's runSpec: it answers "stopped" /
// "started" on stdin), and Chromium (SWITCHBOARD_CHROMIUM, default
// /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const started = Date.now();

// specArgs reads `node SPEC URL OUTDIR` and creates OUTDIR.
export function specArgs(spec) {
  const [baseURL, outDir] = process.argv.slice(2);
  if (!baseURL || !outDir) {
    console.error(`usage: node ${spec} URL OUTDIR`);
    process.exit(2);
  }
  mkdirSync(outDir, { recursive: true });
  return { baseURL, outDir };
}

export function log(...a) {
  console.error(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
}

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

const stdinLines = [];
const stdinWaiters = [];
createInterface({ input: process.stdin }).on('line', (line) => {
  const w = stdinWaiters.shift();
  if (w) w(line.trim());
  else stdinLines.push(line.trim());
});

// command prints cmd (STOP or START) and waits, at most 30 s, for the Go
// test's answer, which must be expect.
export async function command(cmd, expect) {
  console.log(cmd);
  const line = stdinLines.length
    ? stdinLines.shift()
    : await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer to ${cmd} from the Go test`)), 30_000);
        stdinWaiters.push((l) => {
          clearTimeout(t);
          resolve(l);
        });
      });
  check(line === expect, `the Go test answered ${JSON.stringify(line)} to ${cmd}, want ${expect}`);
}

// launch starts headless Chromium.
export function launch() {
  return chromium.launch({
    executablePath: process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// openPage opens a page in a context of its own (1280x800, en-US, UTC)
// that waits at most wait for anything, runs init (a function, with arg)
// in the page before its scripts, and adds to problems the page's errors
// and console errors, named name.
export async function openPage(browser, problems, name, { wait, init, arg } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
  if (init) await context.addInitScript(init, arg);
  const page = await context.newPage();
  if (wait) page.setDefaultTimeout(wait);
  page.on('pageerror', (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`${name}: console error: ${m.text()}`);
  });
  return page;
}

// reportFailure prints err and the pages' problems, screenshots every
// open page into outDir (failure-CONTEXT-PAGE.png) and prints E2E FAILED.
export async function reportFailure(err, browser, outDir, problems) {
  console.error(err && err.stack ? err.stack : err);
  if (problems.length) console.error('problems in the pages:\n  ' + problems.join('\n  '));
  for (const [c, ctx] of browser.contexts().entries()) {
    for (const [i, page] of ctx.pages().entries()) {
      await page.screenshot({ path: join(outDir, `failure-${c}-${i}.png`) }).catch(() => {});
    }
  }
  console.log('E2E FAILED');
}
