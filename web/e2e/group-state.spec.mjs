// What a group call's pages show of each other is the server's word: a page that says of itself
// it is muted while its audio is forwarded (or heard while the media server holds its audio back)
// fools nobody, and a mute from the call-control API shows on every page. And the media-server
// connection honours the relay options as a 1:1 call does: relay-only pages reach the media server
// through a real coturn, a failed credentials request is 490/4502, a relay-only joiner on a server
// without a relay is 410/3112.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { allowUdp, dropUdp, keepPeerConnections, launch, selectedCandidatePair, startServer, startTurnRelay, whyNoNftables, whyNoTurn } from './harness.mjs';

const KEY = 'e2e-key';
const SECRET = `e2e-group-relay-${process.pid}`;
const TABLE = 'appel_e2e_group_state';

/** A page whose SDK says the opposite of the truth about its microphone in every `signal`. */
const LIE_ABOUT_MUTE = () => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function lyingSend(data) {
    if (typeof data === 'string' && data.includes('"muted"')) {
      try {
        const frame = JSON.parse(data);
        if (frame.type === 'signal' && typeof frame.payload?.muted === 'boolean') {
          frame.payload.muted = !frame.payload.muted;
          data = JSON.stringify(frame);
        }
      } catch (_) { /* not a frame of ours */ }
    }
    return send.call(this, data);
  };
};

async function signInWith(browser, server, name, query, init) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  await page.goto(`${server.url}/?${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#name', name);
  await page.click('#signin-button');
  await page.waitForSelector('body[data-screen="home"]');
  return { page, identity: await page.evaluate(() => window.appel.state.me.identity) };
}

async function startGroup(side) {
  await side.page.click('#group-button');
  await side.page.waitForSelector('body[data-screen="call"]');
  await side.page.waitForFunction(() => /^[0-9a-f]{16,}/.test(document.getElementById('call-id').textContent));
  return side.page.textContent('#call-id');
}

async function join(side, id) {
  await side.page.fill('#join-id', id);
  await side.page.click('#join-button');
  await side.page.waitForSelector('body[data-screen="call"]');
}

async function audioPackets(side) {
  return side.page.evaluate(async () => {
    const out = {};
    for (const p of window.appel.state.call.remoteParticipants) {
      if (p.state !== 'Disconnected') out[p.identity] = (await p.audioStats()).packetsReceived;
    }
    return out;
  });
}

/** Audio packets of `identity` that reach `side` in `ms`, after `settle` ms for those in flight. */
async function packetsOf(side, identity, ms = 1500, settle = 800) {
  await new Promise((r) => setTimeout(r, settle));
  const first = await audioPackets(side);
  await new Promise((r) => setTimeout(r, ms));
  const then = await audioPackets(side);
  return (then[identity] || 0) - (first[identity] || 0);
}

async function heard(side, identity) {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    if (await packetsOf(side, identity, 1000, 0) >= 20) return;
  }
  assert.fail(`${identity} is not heard`);
}

/** What `side` shows of `identity`: the grid's indicator and the SDK's `isMuted`. */
async function shownMuted(side, identity) {
  return side.page.evaluate((who) => {
    const tile = document.querySelector(`#grid .tile[data-identity="${who}"]`);
    const p = window.appel.state.call.remoteParticipants.find((r) => r.identity === who);
    return { tile: tile?.dataset.muted, sdk: p?.isMuted };
  }, identity);
}

async function waitShownMuted(side, identity, muted) {
  await side.page.waitForSelector(`#grid .tile[data-identity="${identity}"][data-muted="${muted}"]`, { timeout: 15000 });
  assert.deepEqual(await shownMuted(side, identity), { tile: String(muted), sdk: muted });
}

async function endReasonWithin(page, ms) {
  await page.waitForSelector('body[data-screen="ended"]', { timeout: ms });
  return page.evaluate(() => document.body.dataset.endReason);
}

describe("group call participants' media state comes from the server", () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launch();
  });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('a page that lies about its microphone in its signals is shown as the media server forwards it', async () => {
    const ola = await signInWith(browser, server, 'Ola', 'loopbackOnly=1');
    const liar = await signInWith(browser, server, 'Liam', 'loopbackOnly=1', LIE_ABOUT_MUTE);
    const id = await startGroup(ola);
    await join(liar, id);
    // Heard, while its signals say it is muted: Ola's grid says heard.
    await heard(ola, liar.identity);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(await shownMuted(ola, liar.identity), { tile: 'false', sdk: false });
    // Muted (the media server holds its audio back), while its signals say it is heard.
    await liar.page.click('#mute');
    await waitShownMuted(ola, liar.identity, true);
    assert.equal(await packetsOf(ola, liar.identity), 0, 'muted audio still reaches Ola');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(await shownMuted(ola, liar.identity), { tile: 'true', sdk: true });
    // Unmuted again: shown heard, and heard.
    await liar.page.click('#mute');
    await waitShownMuted(ola, liar.identity, false);
    await heard(ola, liar.identity);
    for (const side of [ola, liar]) await side.page.context().close();
  });

  test("a mute from the call-control API shows on every other page and the participant's audio stops", async () => {
    const pia = await signInWith(browser, server, 'Pia', 'loopbackOnly=1');
    const quinn = await signInWith(browser, server, 'Quinn', 'loopbackOnly=1');
    const rosa = await signInWith(browser, server, 'Rosa', 'loopbackOnly=1');
    const id = await startGroup(pia);
    await join(quinn, id);
    await join(rosa, id);
    for (const side of [pia, rosa]) await heard(side, quinn.identity);
    const participantId = await pia.page.evaluate((who) => window.appel.state.call.remoteParticipants.find((p) => p.identity === who).id, quinn.identity);
    const response = await fetch(`${server.url}/call-control/calls/${id}/participants/${participantId}/mute`, {
      method: 'POST', headers: { Authorization: `Bearer ${KEY}` },
    });
    assert.ok(response.ok, `mute: ${response.status}`);
    for (const side of [pia, rosa]) {
      await waitShownMuted(side, quinn.identity, true);
      assert.equal(await packetsOf(side, quinn.identity), 0, `Quinn still reaches ${side.identity}`);
    }
    // Quinn's own page knows it too (its microphone is off), and unmuting is heard by all.
    await quinn.page.waitForFunction(() => window.appel.state.call.isMuted === true);
    assert.equal(await quinn.page.textContent('#mute'), 'Unmute');
    await quinn.page.waitForSelector('#grid .tile[data-participant-id="self"][data-muted="true"]');
    await quinn.page.click('#mute');
    for (const side of [pia, rosa]) {
      await waitShownMuted(side, quinn.identity, false);
      await heard(side, quinn.identity);
    }
    for (const side of [pia, quinn, rosa]) await side.page.context().close();
  });
});

describe("the media server's connection and the relay", () => {
  const turn = whyNoTurn();
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { await browser?.close(); });

  test('two relay-only pages of a group call reach the media server through a real coturn', { skip: turn ?? false }, async () => {
    const relay = await startTurnRelay(SECRET);
    const server = await startServer({
      APPEL_RELAY_URLS: `turn:127.0.0.1:${relay.port}?transport=udp`,
      APPEL_RELAY_SECRET: SECRET,
    });
    try {
      const sara = await signInWith(browser, server, 'Sara', 'loopbackOnly=1&relayOnly=1', keepPeerConnections);
      const tom = await signInWith(browser, server, 'Tom', 'loopbackOnly=1&relayOnly=1', keepPeerConnections);
      const id = await startGroup(sara);
      await join(tom, id);
      for (const [side, other] of [[sara, tom], [tom, sara]]) {
        await heard(side, other.identity);
        await side.page.waitForSelector(`#grid .tile[data-identity="${other.identity}"][data-video="shown"]`, { timeout: 30000 });
        assert.equal(await side.page.evaluate(() => window.appel.state.call.usesMediaServer), true);
        const pair = await selectedCandidatePair(side.page);
        assert.equal(pair.local, 'relay', `the media-server connection is not relayed: ${JSON.stringify(pair)}`);
        assert.ok(pair.bytesReceived > 0, JSON.stringify(pair));
      }
      // Each page asked the server for credentials, and coturn accepted them.
      assert.match(relay.log(), /session \d+: .*(new|refreshed|allocation)/i);
      for (const side of [sara, tom]) await side.page.context().close();
    } finally { await server.stop(); await relay.stop(); }
  });

  test('a media-server connection lost on the client side is replaced (mediaRestart) before the server gives up, and the call goes on', { skip: whyNoNftables() ?? false }, async () => {
    const server = await startServer();
    try {
      const yan = await signInWith(browser, server, 'Yan', 'loopbackOnly=1&mediaRecoveryMs=1000', keepPeerConnections);
      const zoe = await signInWith(browser, server, 'Zoe', 'loopbackOnly=1&mediaRecoveryMs=1000', keepPeerConnections);
      const id = await startGroup(yan);
      await join(zoe, id);
      for (const [side, other] of [[yan, zoe], [zoe, yan]]) {
        await heard(side, other.identity);
        await side.page.evaluate(() => {
          window.endedEarly = false;
          window.appel.state.call.on('ended', () => { window.endedEarly = true; });
        });
      }
      const connections = (side) => side.page.evaluate(() => window.__peerConnections.length);
      const before = await Promise.all([yan, zoe].map(connections));
      const started = Date.now();
      dropUdp(TABLE);
      try {
        // Each page sees its connection go down and opens a fresh one; the media server's loss
        // timer (10 s) must not have fired yet.
        for (let i = 0; i < 90; i += 1) {
          const now = await Promise.all([yan, zoe].map(connections));
          if (now.every((n, k) => n > before[k])) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally { allowUdp(TABLE); }
      const after = await Promise.all([yan, zoe].map(connections));
      console.log(`# replaced after ${Date.now() - started} ms: ${JSON.stringify({ before, after })}`);
      assert.ok(after.every((n, k) => n > before[k]), `a page did not replace its connection: ${JSON.stringify({ before, after })}`);
      await new Promise((r) => setTimeout(r, 3000));
      const screens = await Promise.all([yan, zoe].map((side) => side.page.evaluate(() => `${document.body.dataset.screen} ${document.body.dataset.endReason} ${document.body.dataset.lastError}`)));
      console.log(`# after the replacement: ${JSON.stringify(screens)}`);
      if (screens.some((x) => !x.startsWith('call'))) {
        const entries = (await (await fetch(`${server.url}/calls/${id}`, { headers: { Authorization: `Bearer ${KEY}` } })).json()).timeline || [];
        console.log(entries.map((e) => `${e.at} ${e.kind} ${JSON.stringify(e.detail)}`).join('\n'));
      }
      for (const [side, other] of [[yan, zoe], [zoe, yan]]) {
        await heard(side, other.identity);
        await side.page.waitForSelector(`#grid .tile[data-identity="${other.identity}"][data-video="shown"]`, { timeout: 30000 });
        assert.equal(await side.page.evaluate(() => window.endedEarly), false, 'the call ended on the way');
        assert.equal(await side.page.evaluate(() => document.body.dataset.screen), 'call');
      }
      const timeline = await (await fetch(`${server.url}/calls/${id}`, { headers: { Authorization: `Bearer ${KEY}` } })).json();
      assert.ok(!(timeline.timeline || []).some((e) => /301005|301004/.test(JSON.stringify(e))), JSON.stringify(timeline.timeline));
      for (const side of [yan, zoe]) await side.page.context().close();
    } finally { allowUdp(TABLE); await server.stop(); }
  });

  test('a joiner whose relay credentials request fails ends 490/4502 before it joins; relay-only without a relay is 410/3112', async () => {
    const server = await startServer({ APPEL_RELAY_URLS: 'turn:127.0.0.1:9?transport=udp', APPEL_RELAY_SECRET: SECRET });
    const bare = await startServer();
    try {
      const uma = await signInWith(browser, server, 'Uma', 'loopbackOnly=1');
      const vic = await signInWith(browser, server, 'Vic', 'loopbackOnly=1&relay=1');
      let asked = 0;
      await vic.page.route('**/relay/credentials', (route) => { asked += 1; return route.fulfill({ status: 500, body: 'relay credentials unavailable' }); });
      const id = await startGroup(uma);
      await vic.page.fill('#join-id', id);
      await vic.page.click('#join-button');
      assert.equal(await endReasonWithin(vic.page, 15000), '490/4502');
      assert.equal(asked, 1);
      // The join never reached the server: Uma is still alone.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await uma.page.evaluate(() => window.appel.state.call.remoteParticipants.length), 0);

      const wes = await signInWith(browser, bare, 'Wes', 'loopbackOnly=1');
      const xia = await signInWith(browser, bare, 'Xia', 'loopbackOnly=1&relayOnly=1');
      const bareId = await startGroup(wes);
      await xia.page.fill('#join-id', bareId);
      await xia.page.click('#join-button');
      assert.equal(await endReasonWithin(xia.page, 15000), '410/3112');
      for (const side of [uma, vic, wes, xia]) await side.page.context().close();
    } finally { await server.stop(); await bare.stop(); }
  });
});
