// Media outcomes produced by real network conditions the tests build: UDP and TCP dropped by
// nftables (410/3100 before the call connects, 410/3101 after), a peer that answers with a broken
// session description (410/3111), a relay-only call whose relay is down (410/3112), a relay
// credentials request that fails (490/4502), and a relay-only call carried by a real coturn.
//
// The nftables rules and coturn need root in the suite's own network namespace (scripts/test runs
// it under `unshare --net`, with only `lo`): outside such a namespace, or without `nft` or
// `turnserver`, those tests are skipped with the reason, never run against a real interface.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { answer, call, launch, remoteVideoProgress, signInAt, startServer } from './harness.mjs';

const TABLE = 'appel_e2e_network';
const SECRET = `e2e-relay-${process.pid}`;

function has(command) {
  try { execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }); return true; } catch (_) { return false; }
}

/** Why rules may not be installed here, or null: only in a namespace that has nothing but `lo`. */
function whyNoFirewall() {
  if (process.getuid?.() !== 0) return 'not root';
  if (!has('nft')) return 'nft (Debian package nftables) is not installed';
  let links;
  try {
    links = execFileSync('ip', ['-o', 'link', 'show']).toString().trim().split('\n')
      .map((line) => line.split(':')[1].trim().split('@')[0]);
  } catch (e) { return `cannot list the network interfaces: ${e.message}`; }
  if (links.some((name) => name !== 'lo')) return `this network namespace has other interfaces (${links.join(', ')}); run the suite under unshare --net`;
  try { execFileSync('nft', ['list', 'tables'], { stdio: 'ignore' }); } catch (e) { return `nft cannot run: ${e.message}`; }
  return null;
}

/**
 * Drops every UDP packet, and every TCP packet that is not signaling (the server's port), on
 * arrival: the sender's writes succeed, as on a network that loses packets on the way (a drop on
 * output would fail the browser's own send calls at once instead).
 */
function blockMedia(serverPort) {
  execFileSync('nft', ['-f', '-'], {
    input: `table inet ${TABLE} {
      chain in {
        type filter hook input priority 0; policy accept;
        tcp dport ${serverPort} accept
        tcp sport ${serverPort} accept
        meta l4proto { udp, tcp } drop
      }
    }\n`,
  });
}

function unblock() {
  try { execFileSync('nft', ['delete', 'table', 'inet', TABLE], { stdio: 'ignore' }); } catch (_) { /* not there */ }
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
    server.on('error', reject);
  });
}

/** coturn on loopback with the REST shared-secret scheme, relaying between loopback peers. */
async function startTurn(port) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'appel-turn-'));
  const child = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1',
    `--listening-port=${port}`, '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=appel.test',
    '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls', '--min-port=49160', '--max-port=49260',
    `--userdb=${path.join(dir, 'turndb')}`, `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    '--log-file=stdout', '--simple-log', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (chunk) => { log += chunk; });
  child.stderr.on('data', (chunk) => { log += chunk; });
  for (let i = 0; i < 100 && !log.includes('Total General servers'); i += 1) await new Promise((r) => setTimeout(r, 50));
  return {
    log: () => log,
    async stop() { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** The end reason the page shows, waiting up to `ms` (ICE gives up on its own schedule). */
async function endReasonWithin(page, ms) {
  await page.waitForSelector('body[data-screen="ended"]', { timeout: ms });
  return page.evaluate(() => document.body.dataset.endReason);
}

/** Keeps every RTCPeerConnection the SDK creates, so a test can read its statistics. */
const KEEP_PEER_CONNECTIONS = () => {
  const Original = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = function RTCPeerConnection(...args) {
    const pc = new Original(...args);
    window.__peerConnections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
};

/** The local and remote candidate types of the pair media flows on. */
async function selectedPair(page) {
  return page.evaluate(async () => {
    const pc = window.__peerConnections.at(-1);
    const stats = [...(await pc.getStats()).values()];
    const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
    const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
    const local = stats.find((s) => s.id === pair?.localCandidateId);
    const remote = stats.find((s) => s.id === pair?.remoteCandidateId);
    return { local: local?.candidateType, remote: remote?.candidateType, bytesReceived: pair?.bytesReceived ?? 0 };
  });
}

describe('media outcomes from real networks', () => {
  const firewall = whyNoFirewall();
  const turn = has('turnserver') ? null : 'turnserver (Debian package coturn) is not installed';
  let browser;
  before(async () => { browser = await launch(); });
  after(async () => { unblock(); await browser?.close(); });

  test('ICE that never connects (UDP and TCP media dropped by nftables) ends the call 410/3100', { skip: firewall ?? false }, async () => {
    const server = await startServer({ APPEL_TIMERS_RINGING: '60s', APPEL_TIMERS_ESTABLISHMENT: '90s' });
    try {
      const ann = await signInAt(browser, server, 'ann', 'loopbackOnly=1&mediaRecoveryMs=1000');
      const ben = await signInAt(browser, server, 'ben', 'loopbackOnly=1&mediaRecoveryMs=1000');
      blockMedia(new URL(server.url).port);
      const started = Date.now();
      await call(ann, ben, { video: false });
      await ben.page.click('#accept');
      const reasons = await Promise.all([ann, ben].map((side) => endReasonWithin(side.page, 90000)));
      console.log(`# 3100 after ${Date.now() - started} ms: ${reasons.join(', ')}`);
      assert.ok(reasons.includes('410/3100'), `no side saw 410/3100: ${reasons}`);
    } finally { unblock(); await server.stop(); }
  });

  test('media cut by nftables after the call connected, not recovered, ends the call 410/3101', { skip: firewall ?? false }, async () => {
    const server = await startServer({ APPEL_TIMERS_RINGING: '60s' });
    try {
      const cleo = await signInAt(browser, server, 'cleo', 'loopbackOnly=1&mediaRecoveryMs=1000');
      const dan = await signInAt(browser, server, 'dan', 'loopbackOnly=1&mediaRecoveryMs=1000');
      await call(cleo, dan, { video: true });
      await answer(cleo, dan, { video: true });
      const flowing = await remoteVideoProgress(cleo.page, 500);
      assert.ok(flowing.newFrames > 0, `media never flowed: ${JSON.stringify(flowing)}`);
      blockMedia(new URL(server.url).port);
      const cut = Date.now();
      const reasons = await Promise.all([cleo, dan].map((side) => endReasonWithin(side.page, 60000)));
      console.log(`# 3101 after ${Date.now() - cut} ms: ${reasons.join(', ')}`);
      assert.ok(reasons.includes('410/3101'), `no side saw 410/3101: ${reasons}`);
    } finally { unblock(); await server.stop(); }
  });

  test('a peer that answers with a broken session description ends the offerer 410/3111', async () => {
    const server = await startServer({ APPEL_TIMERS_RINGING: '60s' });
    try {
      const eva = await signInAt(browser, server, 'eva', 'loopbackOnly=1');
      const finn = await signInAt(browser, server, 'finn', 'loopbackOnly=1');
      // Eva's page mangles the answer it sends through the signaling socket; Finn, who accepts
      // and therefore offers, gets it from the server as any other signal.
      await eva.page.evaluate(() => {
        const send = WebSocket.prototype.send;
        WebSocket.prototype.send = function tampered(data) {
          if (typeof data === 'string' && data.includes('"answer"')) {
            const frame = JSON.parse(data);
            if (frame.payload?.sdp?.type === 'answer') {
              frame.payload.sdp.sdp = 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\nm=nonsense\r\n';
              window.__tampered = (window.__tampered || 0) + 1;
              return send.call(this, JSON.stringify(frame));
            }
          }
          return send.call(this, data);
        };
      });
      await call(eva, finn, { video: false });
      await finn.page.click('#accept');
      assert.equal(await endReasonWithin(finn.page, 20000), '410/3111');
      assert.equal(await eva.page.evaluate(() => window.__tampered), 1, 'the answer went through the hook once');
    } finally { await server.stop(); }
  });

  test('a relay-only call whose relay is down ends 410/3112', { skip: turn ?? false }, async () => {
    // The server hands out credentials for a relay that ran and was stopped: its port refuses
    // connections. (Over UDP the browser would wait out its full STUN timeout, about 40 s, before
    // it gives the allocation up; TCP learns at once.)
    const turnPort = await freePort();
    const stopped = await startTurn(turnPort);
    await stopped.stop();
    const server = await startServer({
      APPEL_TIMERS_RINGING: '60s',
      APPEL_RELAY_URLS: `turn:127.0.0.1:${turnPort}?transport=tcp`,
      APPEL_RELAY_SECRET: SECRET,
    });
    try {
      const gus = await signInAt(browser, server, 'gus', 'loopbackOnly=1&relayOnly=1');
      const hana = await signInAt(browser, server, 'hana', 'loopbackOnly=1&relayOnly=1');
      const started = Date.now();
      await call(gus, hana, { video: false });
      await hana.page.click('#accept');
      const reasons = await Promise.all([gus, hana].map((side) => endReasonWithin(side.page, 90000)));
      console.log(`# 3112 after ${Date.now() - started} ms: ${reasons.join(', ')}`);
      assert.ok(reasons.includes('410/3112'), `no side saw 410/3112: ${reasons}`);
    } finally { await server.stop(); }
  });

  test('a relay credentials request that fails ends the call attempt 490/4502 before anyone rings', async () => {
    const server = await startServer({ APPEL_RELAY_URLS: 'turn:127.0.0.1:9?transport=udp', APPEL_RELAY_SECRET: SECRET });
    try {
      const ida = await signInAt(browser, server, 'ida', 'loopbackOnly=1&relay=1');
      const jon = await signInAt(browser, server, 'jon', 'loopbackOnly=1&relay=1');
      let asked = 0;
      await ida.page.route('**/relay/credentials', (route) => { asked += 1; return route.fulfill({ status: 500, body: 'relay credentials unavailable' }); });
      await ida.page.setChecked('#with-video', false);
      await ida.page.fill('#target', jon.identity);
      await ida.page.click('#call-button');
      assert.equal(await endReasonWithin(ida.page, 15000), '490/4502');
      assert.equal(asked, 1);
      // Nothing reached the server: Jon was never rung.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await jon.page.evaluate(() => document.body.dataset.screen), 'home');
    } finally { await server.stop(); }
  });

  test('a callee whose relay credentials request fails leaves the accepted call 490/4502', async () => {
    const server = await startServer({ APPEL_RELAY_URLS: 'turn:127.0.0.1:9?transport=udp', APPEL_RELAY_SECRET: SECRET });
    try {
      const max = await signInAt(browser, server, 'max', 'loopbackOnly=1');
      const nia = await signInAt(browser, server, 'nia', 'loopbackOnly=1&relay=1');
      await nia.page.route('**/relay/credentials', (route) => route.abort('connectionrefused'));
      await call(max, nia, { video: false });
      await nia.page.click('#accept');
      assert.equal(await endReasonWithin(nia.page, 15000), '490/4502');
      // Nia left the call on the server too: Max's call ends.
      await max.page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
    } finally { await server.stop(); }
  });

  test('two relay-only pages call each other through a real coturn and media flows', { skip: turn ?? false }, async () => {
    const turnPort = await freePort();
    const relay = await startTurn(turnPort);
    const server = await startServer({
      APPEL_TIMERS_RINGING: '60s',
      APPEL_RELAY_URLS: `turn:127.0.0.1:${turnPort}?transport=udp`,
      APPEL_RELAY_SECRET: SECRET,
    });
    try {
      const kim = await signInAt(browser, server, 'kim', 'loopbackOnly=1&relayOnly=1');
      const leo = await signInAt(browser, server, 'leo', 'loopbackOnly=1&relayOnly=1');
      for (const side of [kim, leo]) await side.page.evaluate(KEEP_PEER_CONNECTIONS);
      await call(kim, leo, { video: true });
      await answer(kim, leo, { video: true });
      for (const side of [kim, leo]) {
        const video = await remoteVideoProgress(side.page);
        assert.ok(video.newFrames > 0 && video.advanced > 0.3, `no media through the relay: ${JSON.stringify(video)}`);
        const pair = await selectedPair(side.page);
        assert.equal(pair.local, 'relay', `media not on a relayed path: ${JSON.stringify(pair)}`);
        assert.ok(pair.bytesReceived > 0, JSON.stringify(pair));
      }
      // coturn itself accepted the shared-secret credentials the server handed out.
      assert.match(relay.log(), /session \d+: .*(new|refreshed|allocation)/i);
      await kim.page.click('#hangup');
      assert.equal(await endReasonWithin(kim.page, 15000), '0/0');
    } finally { await server.stop(); await relay.stop(); }
  });
});
