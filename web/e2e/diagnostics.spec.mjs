// The diagnostics page in Chromium: an operator signs in with the access key, finds the call Bob
// declined by his identity and 603, reads each leg's reason with its advice (in French too) and
// the timeline in order, and sees the summary's chart. The calls are real: two `appel agent`
// processes, one calling and one declining.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { launch, screenshot, startServer } from './harness.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEY = 'e2e-key';

async function rest(server, method, route) {
  const response = await fetch(`${server.url}${route}`, { method, headers: { Authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
  assert.ok(response.ok, `${method} ${route}: ${response.status}`);
  return response.json();
}

/** An `appel agent` process; `waitFor(text)` resolves once its output holds `text`. */
function agent(server, identity, extra = []) {
  const bin = process.env.APPEL_BIN || path.join(root, 'target/debug/appel');
  const child = spawn(bin, ['agent', '--server', server.url, '--identity', identity, '--access-key', KEY, '--lang', 'en', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = [];
  const feed = (chunk) => {
    out += chunk;
    for (const w of [...waiters]) if (out.includes(w.text)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  child.stdout.on('data', feed);
  child.stderr.on('data', feed);
  return {
    waitFor: (text) => (out.includes(text) ? Promise.resolve() : new Promise((resolve, reject) => {
      waiters.push({ text, resolve });
      setTimeout(() => reject(new Error(`agent ${identity} never printed "${text}":\n${out}`)), 15000);
    })),
    send: (line) => child.stdin.write(`${line}\n`),
    stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }),
  };
}

describe('the diagnostics page', () => {
  let server;
  let browser;
  let bob;
  let callId;
  before(async () => {
    server = await startServer();
    browser = await launch({ fakeDevices: false });
    const alice = (await rest(server, 'POST', '/identities')).id;
    bob = (await rest(server, 'POST', '/identities')).id;
    const callee = agent(server, bob);
    await callee.waitFor('signed in as');
    const caller = agent(server, alice, ['--call', bob]);
    await callee.waitFor('incoming call');
    callee.send('reject');
    await caller.waitFor('603/0');
    await Promise.all([caller.stop(), callee.stop()]);
    const page = await rest(server, 'GET', `/calls?identity=${bob}&code=603`);
    assert.equal(page.calls.length, 1);
    callId = page.calls[0].id;
  });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('a wrong key is refused and nothing is shown', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/app/diagnostics.html`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#key', 'not-the-key');
    await page.click('#signin-button');
    await page.waitForFunction(() => document.getElementById('signin-error').textContent.length > 0);
    assert.match(await page.textContent('#signin-error'), /not this server's access key/);
    assert.equal(await page.isHidden('#console'), true);
    await page.close();
  });

  test('finds the call Bob declined and shows each leg with its advice and the timeline in order', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
    await page.goto(`${server.url}/app/diagnostics.html`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#key', KEY);
    await page.click('#signin-button');
    await page.waitForSelector('body[data-screen="diagnostics"]');

    // The summary: two legs ended 603/0 (the caller's and Bob's), drawn in the chart.
    await page.waitForSelector('body[data-summary-legs="2"]');
    assert.match(await page.textContent('#reasons'), /603\/0\s*CALL_DECLINED/);
    assert.ok(await page.locator('#chart rect[data-category="Success"]').count() >= 1);

    await page.fill('#identity', bob);
    await page.fill('#code', '603');
    await page.click('#search-button');
    await page.waitForSelector(`tr.call[data-call="${callId}"]`);
    assert.equal(await page.locator('tr.call').count(), 1);
    await page.click(`tr.call[data-call="${callId}"]`);
    await page.waitForSelector(`body[data-shown="${callId}"]`);
    // Bob's endpoint that declined has its own ring, ended 0/0 by its own action.
    assert.match(await page.textContent('.ring'), /stopped ringing: 0\/0 CALL_ENDED_LOCALLY/);

    const bobLeg = page.locator(`.leg[data-identity="${bob}"]`);
    const text = await bobLeg.textContent();
    assert.match(text, /never answered/);
    assert.match(text, /603\/0 CALL_DECLINED \(Success\)/);
    assert.match(text, /This is a normal outcome, not a fault/);
    const kinds = await page.locator('#timeline tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
    const at = (kind) => kinds.indexOf(kind);
    assert.equal(kinds[0], 'created', kinds.join(','));
    assert.ok(at('ringing') > 0 && at('ringing') < at('declined') && at('declined') < at('targetEnded'), kinds.join(','));
    await screenshot(page, 'diagnostics-call.png');

    await page.selectOption('#lang', 'fr');
    await page.waitForFunction((id) => document.querySelector(`.leg[data-identity="${id}"]`)?.textContent.includes("C'est une issue normale"), bob);
    await page.close();
  });

  test('an identity with no declined call finds nothing', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/app/diagnostics.html`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#key', KEY);
    await page.click('#signin-button');
    await page.waitForSelector('body[data-screen="diagnostics"]');
    await page.fill('#identity', 'nobody');
    await page.fill('#code', '603');
    await page.click('#search-button');
    await page.waitForSelector('body[data-results="0"]');
    await page.close();
  });
});
