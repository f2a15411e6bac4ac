// The browser SDK keeps calls across a dropped signaling connection, as the native SDK does: a page
// reaches the server through a loopback TCP relay that the test cuts (a lost network), while the
// other page and the media between them stay up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answer, call, endReason, launch, remoteVideoProgress, startProxy, startServer } from './harness.mjs';

/** The JSON frames a page sends and receives on its WebSockets, as the network carries them. */
function wire(page) {
  const frames = { sent: [], received: [] };
  const read = (list) => ({ payload }) => { try { list.push(JSON.parse(payload)); } catch (_) { /* not JSON */ } };
  page.on('websocket', (ws) => { ws.on('framesent', read(frames.sent)); ws.on('framereceived', read(frames.received)); });
  return frames;
}

/** A page of its own context that loads the web app from `origin` (the server or the relay) and signs `name` in. */
async function signInAt(browser, origin, name, query = '') {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();
  const frames = wire(page);
  await page.goto(`${origin}/?loopbackOnly=1${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#name', name);
  await page.click('#signin-button');
  await page.waitForSelector('body[data-screen="home"]');
  const identity = await page.evaluate(() => window.appel.state.me.identity);
  return { page, identity, frames };
}

/** Records, on the page's own clock, when its agent's connection changes and when its call ends. */
async function watchTimes(page) {
  await page.evaluate(() => {
    const times = { changes: [], ended: null };
    window.reconnectTimes = times;
    window.appel.state.agent.on('connectionStateChanged', (s) => times.changes.push({ state: s, at: performance.now() }));
    window.appel.state.call.on('ended', (r) => { times.ended = { reason: `${r.code}/${r.subCode}`, at: performance.now() }; });
  });
}

const connection = (side, state) => side.page.waitForSelector(`body[data-connection="${state}"]`, { timeout: 15000 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The `hangUp` a page sent and the server's answer to it on the same connection. */
function hangUpAndAnswer(frames) {
  const hangUp = frames.sent.find((f) => f.type === 'hangUp');
  const answered = hangUp && frames.received.find((f) => (f.type === 'ack' || f.type === 'error') && f.requestId === hangUp.requestId);
  return { hangUp, answered };
}

async function legReasons(server, identity, callId) {
  const page = await (await fetch(`${server.url}/dev/calls?identity=${encodeURIComponent(identity)}`)).json();
  const record = page.calls.find((c) => c.id === callId);
  return record && Object.fromEntries(record.legs.map((leg) => [leg.identity, leg.endReason && `${leg.endReason.code}/${leg.endReason.subCode}`]));
}

describe('signaling drops during a call', () => {
  let server;
  let browser;
  const proxies = [];
  before(async () => { server = await startServer({ APPEL_TIMERS_ABRUPT_DISCONNECT: '4s' }); browser = await launch(); });
  after(async () => { for (const p of proxies) await p.stop(); await browser?.close(); await server?.stop(); });

  /** A connected call from `caller`, who reaches the server through a relay of its own, to `callee`. */
  async function callThroughRelay(caller, callee, { video, query = '' }) {
    const proxy = await startProxy(server.url);
    proxies.push(proxy);
    const from = await signInAt(browser, proxy.url, caller, query);
    const to = await signInAt(browser, server.url, callee);
    await call(from, to, { video });
    await answer(from, to, { video });
    const callId = await from.page.evaluate(() => window.appel.state.call.id);
    return { proxy, from, to, callId };
  }

  test('a connection regained within the grace keeps the call, both sides still talk and hang up with 0/0', async () => {
    const { proxy, from: ada, to: ben, callId } = await callThroughRelay('ada', 'ben', { video: true });
    await watchTimes(ada.page);

    await proxy.cut();
    await connection(ada, 'Reconnecting');
    await sleep(1500);
    assert.equal(await ada.page.evaluate(() => document.body.dataset.screen), 'call', 'the call outlives the drop');
    await proxy.restore();
    await connection(ada, 'Connected');

    const times = await ada.page.evaluate(() => window.reconnectTimes);
    assert.deepEqual(times.changes.map((c) => c.state), ['Reconnecting', 'Connected']);
    assert.equal(times.ended, null);
    for (const side of [ada, ben]) {
      assert.equal(await side.page.evaluate(() => window.appel.state.call && window.appel.state.call.state), 'Connected');
    }
    // The other side never saw ada leave: the server kept her leg through the drop.
    assert.equal(await ben.page.evaluate(() => document.body.dataset.screen), 'call');
    for (const side of [ada, ben]) {
      const video = await remoteVideoProgress(side.page);
      assert.ok(video.newFrames > 0 && video.advanced > 0.3, `media after the reconnect: ${JSON.stringify(video)}`);
    }

    // The resumed call ends normally, through the new connection.
    await ada.page.click('#hangup');
    assert.equal(await endReason(ada.page), '0/0');
    assert.equal(await endReason(ben.page), '0/0');
    const { hangUp, answered } = hangUpAndAnswer(ada.frames);
    assert.ok(hangUp.requestId > 0, `hang-up request id ${hangUp.requestId}`);
    assert.equal(answered && answered.type, 'ack', 'the server answered the hang-up');
    assert.deepEqual(await legReasons(server, ben.identity, callId), { [ada.identity]: '0/0', [ben.identity]: '0/0' });
  });

  test('a connection lost past the grace ends the call with 496/7 only when the grace runs out, and the other sees 0/4521', async () => {
    const { proxy, from: cleo, to: dan } = await callThroughRelay('cleo', 'dan', { video: false, query: '&graceMs=3000' });
    await watchTimes(cleo.page);

    await proxy.cut();
    await connection(cleo, 'Reconnecting');
    await sleep(2000);
    assert.equal(await cleo.page.evaluate(() => window.reconnectTimes.ended), null, 'not ended before the grace');
    assert.equal(await endReason(cleo.page), '496/7');
    const times = await cleo.page.evaluate(() => window.reconnectTimes);
    const lost = times.changes.find((c) => c.state === 'Reconnecting').at;
    assert.ok(times.ended.at - lost >= 2990, `ended ${Math.round(times.ended.at - lost)} ms after the drop, before the 3000 ms grace`);
    assert.ok(times.ended.at - lost < 6000, `ended ${Math.round(times.ended.at - lost)} ms after the drop`);
    assert.equal(await cleo.page.textContent('#ended-name'), 'NETWORK_LOST');
    // The server did not hear from cleo again: the other side sees her vanish.
    assert.equal(await endReason(dan.page), '0/4521');

    // The agent itself signs in again once the network is back.
    await proxy.restore();
    await connection(cleo, 'Connected');
    assert.equal(await cleo.page.evaluate(() => window.appel.state.agent.connectionState), 'Connected');
  });

  test('a hang-up made while reconnecting goes out with the next connection and ends the call 0/0 on both sides', async () => {
    const { proxy, from: gus, to: hana, callId } = await callThroughRelay('gus', 'hana', { video: false });

    await proxy.cut();
    await connection(gus, 'Reconnecting');
    const sentBefore = gus.frames.sent.length;
    await gus.page.evaluate(() => { window.hangUpOutcome = window.appel.state.call.hangUp({}).then(() => 'resolved', (e) => `${e.code}/${e.subCode}`); });
    await sleep(500);
    assert.equal(gus.frames.sent.length, sentBefore, 'nothing can leave while the connection is down');
    await proxy.restore();
    await connection(gus, 'Connected');
    assert.equal(await gus.page.evaluate(() => window.hangUpOutcome), 'resolved');
    assert.equal(await endReason(gus.page), '0/0');
    assert.equal(await endReason(hana.page), '0/0');
    const hangUp = gus.frames.sent.slice(sentBefore).find((f) => f.type === 'hangUp');
    assert.ok(hangUp && hangUp.requestId > 0, 'the queued hang-up went out after the reconnect');
    const answered = gus.frames.received.find((f) => f.type === 'ack' && f.requestId === hangUp.requestId);
    assert.ok(answered, 'the server answered it');
    assert.deepEqual(await legReasons(server, hana.identity, callId), { [gus.identity]: '0/0', [hana.identity]: '0/0' });
  });

  test('a page that disposes its agent mid-call leaves with a real request id and the other side sees a normal 0/0 end', async () => {
    const eve = await signInAt(browser, server.url, 'eve');
    const finn = await signInAt(browser, server.url, 'finn');
    await call(eve, finn, { video: false });
    await answer(eve, finn, { video: false });
    const callId = await eve.page.evaluate(() => window.appel.state.call.id);
    await eve.page.evaluate(() => window.appel.state.agent.dispose());
    assert.equal(await endReason(eve.page), '0/0');
    assert.equal(await eve.page.evaluate(() => window.appel.state.agent.connectionState), 'Disconnected');
    // Told by a hang-up, not by a vanished connection (that would be 0/4521 after 4 s).
    assert.equal(await endReason(finn.page), '0/0');
    const hangUp = eve.frames.sent.find((f) => f.type === 'hangUp');
    assert.equal(hangUp && hangUp.callId, callId);
    assert.ok(Number.isInteger(hangUp.requestId) && hangUp.requestId > 0, `hang-up request id ${hangUp.requestId}`);
    // Every request id of the page was used once.
    const ids = eve.frames.sent.filter((f) => f.requestId !== undefined).map((f) => f.requestId);
    assert.equal(new Set(ids).size, ids.length, `request ids ${ids}`);
    assert.deepEqual(await legReasons(server, eve.identity, callId), { [eve.identity]: '0/0', [finn.identity]: '0/0' });
  });
});

describe('reconnect and token options of createCallAgent', () => {
  let server;
  let browser;
  let proxy;
  before(async () => { server = await startServer(); browser = await launch(); proxy = await startProxy(server.url); });
  after(async () => { await proxy?.stop(); await browser?.close(); await server?.stop(); });

  test('reconnect and token options of the wrong kind reject createCallAgent with 400/900900', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const outcomes = await page.evaluate(async () => {
      const { CallClient } = await import('/app/pkg/appel_web.js');
      const client = new CallClient({});
      const attempt = (options) => client.createCallAgent('unused', { serverUrl: location.origin, ...options })
        .then(() => null, (e) => ({ code: e.code, subCode: e.subCode, name: e.name, context: e.context }));
      return [
        await attempt({ reconnect: { graceMs: 'soon' } }),
        await attempt({ reconnect: { maxBackoffMs: -1 } }),
        await attempt({ tokenRefresher: 42 }),
      ];
    });
    for (const [outcome, option] of [[outcomes[0], 'reconnect.graceMs'], [outcomes[1], 'reconnect.maxBackoffMs'], [outcomes[2], 'tokenRefresher']]) {
      assert.equal(outcome && outcome.subCode, 900900, JSON.stringify(outcome));
      assert.equal(outcome.code, 400);
      assert.equal(outcome.name, 'INVALID_ARGUMENT');
      assert.ok(outcome.context.startsWith(option), outcome.context);
    }
  });

  test("the page's token refresher renews the token ahead of expiry and the next reconnect signs in with it", async () => {
    const page = await (await browser.newContext()).newPage();
    const frames = wire(page);
    await page.goto(`${proxy.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const first = await page.evaluate(async () => {
      const { CallClient } = await import('/app/pkg/appel_web.js');
      const session = async () => (await fetch('/dev/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ivy' }) })).json();
      const { token } = await session();
      const claims = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      window.refreshed = [];
      window.ivy = await new CallClient({}).createCallAgent(token, {
        serverUrl: location.origin,
        refreshProactively: true,
        // Due two seconds from now.
        refreshLeadMs: claims.exp * 1000 - Date.now() - 2000,
        tokenRefresher: async () => { const next = (await session()).token; window.refreshed.push(next); return next; },
      });
      return token;
    });
    await page.waitForFunction(() => window.refreshed.length === 1, null, { timeout: 10000 });
    const renewed = await page.evaluate(() => window.refreshed[0]);
    assert.notEqual(renewed, first);
    let refresh;
    for (let i = 0; i < 50 && !refresh; i += 1) {
      refresh = frames.sent.find((f) => f.type === 'refreshToken');
      if (!refresh) await sleep(100);
    }
    assert.equal(refresh && refresh.token, renewed);
    assert.ok(refresh.requestId > 0);
    for (let i = 0; i < 50 && !frames.received.some((f) => f.type === 'ack' && f.requestId === refresh.requestId); i += 1) await sleep(100);
    assert.ok(frames.received.some((f) => f.type === 'ack' && f.requestId === refresh.requestId), 'the server took the new token');

    await proxy.cut();
    await page.waitForFunction(() => window.ivy.connectionState === 'Reconnecting', null, { timeout: 10000 });
    await proxy.restore();
    await page.waitForFunction(() => window.ivy.connectionState === 'Connected', null, { timeout: 15000 });
    const hellos = frames.sent.filter((f) => f.type === 'hello');
    assert.equal(hellos.length, 2);
    assert.equal(hellos[0].token, first);
    assert.equal(hellos[1].token, renewed, 'the reconnect signs in with the renewed token');
    assert.equal(await page.evaluate(() => window.refreshed.length), 1, 'one refresh, not one per reconnect');
  });
});
