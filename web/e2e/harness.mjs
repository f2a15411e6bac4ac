// Starts a real `appel serve --dev` on a free loopback port with short timers, and Chromium (the
// system one, no download) with fake media devices; pages sign in through the web app.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export async function startServer(env = {}) {
  const port = await freePort();
  const data = mkdtempSync(path.join(os.tmpdir(), 'appel-e2e-'));
  const bin = process.env.APPEL_BIN || path.join(root, 'target/debug/appel');
  const child = spawn(bin, ['serve', '--dev', '--listen', `127.0.0.1:${port}`, '--data', data], {
    env: { ...process.env, APPEL_WEB_DIR: path.join(root, 'web/dist'), APPEL_ACCESS_KEY: 'e2e-key', APPEL_TIMERS_RINGING: '20s', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    try { if ((await fetch(`${url}/health`)).ok) break; } catch (_) { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    async stop() { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(data, { recursive: true, force: true }); },
  };
}

export async function launch({ fakeDevices = true, deny = false } = {}) {
  return launchWith({ fakeDevices, deny });
}

/** A new page of its own context, signed in as `name`; answers the page and its identity. */
export async function signIn(browser, server, name) {
  return signInAt(browser, server, name, 'loopbackOnly=1');
}

/** As `signIn`, with the web app's query string given (`relayOnly=1&relay=1`, `mediaRecoveryMs=…`). */
export async function signInAt(browser, server, name, query) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/?${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.fill('#name', name);
  await page.click('#signin-button');
  await page.waitForSelector('body[data-screen="home"]');
  const identity = await page.evaluate(() => window.appel.state.me.identity);
  return { page, identity };
}

export async function call(caller, callee, { video = true } = {}) {
  await caller.page.setChecked('#with-video', video);
  await caller.page.fill('#target', callee.identity);
  await caller.page.click('#call-button');
  await callee.page.waitForSelector('body[data-screen="incoming"]');
}

export async function endReason(page) {
  await page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
  return page.evaluate(() => document.body.dataset.endReason);
}

/** Whether the remote <video> shows decoded frames of the other side's camera. */
export async function seesRemoteVideo(page) {
  await page.waitForFunction(() => {
    const v = document.getElementById('remote');
    return v.videoWidth > 0 && v.currentTime > 0;
  }, null, { timeout: 15000 });
  return true;
}

/** Answers the ringing call on `callee` (with its camera when `video`), once both sides are connected. */
export async function answer(caller, callee, { video = true } = {}) {
  await callee.page.click(video ? '#accept-video' : '#accept');
  for (const side of [caller, callee]) await side.page.waitForSelector('body[data-call-state="Connected"]', { timeout: 15000 });
}

/**
 * What the remote <video> plays after a short while: its size, its decoded frames and how far its
 * clock moved — a stream that stopped (or never started) gives `advanced` 0.
 */
export async function remoteVideoProgress(page, ms = 1000) {
  await seesRemoteVideo(page);
  return page.evaluate(async (wait) => {
    const v = document.getElementById('remote');
    const before = { time: v.currentTime, frames: v.getVideoPlaybackQuality().totalVideoFrames };
    await new Promise((r) => setTimeout(r, wait));
    const frames = v.getVideoPlaybackQuality().totalVideoFrames;
    return { width: v.videoWidth, height: v.videoHeight, frames, newFrames: frames - before.frames, advanced: v.currentTime - before.time };
  }, ms);
}

export const screenshot = (page, name) => (process.env.APPEL_SCREENSHOTS
  ? page.screenshot({ path: path.join(root, 'docs/images', name) }) : Promise.resolve());

/**
 * A TCP relay on a free loopback port in front of `target` (an `http://127.0.0.1:port` URL): pages
 * loaded through its `url` reach the server only through it. `cut()` closes its port and every
 * connection through it, as a lost network does; `restore()` opens the same port again.
 */
export async function startProxy(target) {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(targetPort), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(server.address().port); });
  });
  const port = await listen(0);
  return {
    url: `http://127.0.0.1:${port}`,
    async cut() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async restore() { await listen(port); },
    async stop() { if (server.listening) await this.cut(); },
  };
}

/**
 * Chromium like `launch`, with switches of its own: `fakeDevices` true, false or the options of the
 * fake devices (`'device-count=2'`: two cameras); `extraArgs` added last (host rules…).
 */
export async function launchWith({ fakeDevices = true, deny = false, extraArgs = [] } = {}) {
  const args = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection',
    deny ? '--use-fake-ui-for-media-stream=deny' : '--use-fake-ui-for-media-stream'];
  if (fakeDevices === true) args.push('--use-fake-device-for-media-stream');
  else if (fakeDevices) args.push(`--use-fake-device-for-media-stream=${fakeDevices}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...args, ...extraArgs] });
}

/**
 * Gives `page` `window.outcome(promise)`: null when the promise resolves, else the fields of the
 * SDK error it rejects with (`{code, subCode, name, rawCause, context, advice}`).
 */
export async function readOutcomes(page) {
  await page.evaluate(() => {
    window.errorOf = (e) => ({ code: e.code, subCode: e.subCode, name: e.name, rawCause: e.rawCause, context: e.context, advice: e.advice });
    window.outcome = (promise) => Promise.resolve(promise).then(() => null, window.errorOf);
  });
}


/** Why coturn cannot be started here, or null. */
export function whyNoTurn() {
  const found = spawnSync('sh', ['-c', 'command -v turnserver'], { stdio: 'ignore' }).status === 0;
  return found ? null : 'turnserver (Debian package coturn) is not installed';
}

/**
 * coturn on a free loopback port with the shared-secret credentials scheme, relaying between
 * loopback peers (only in the suite's own namespace). Answers `{port, log(), stop()}`.
 */
export async function startTurnRelay(secret) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'appel-turn-'));
  const child = spawn('turnserver', ['-n', '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1',
    `--listening-port=${port}`, '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=appel.test',
    '--allow-loopback-peers', '--no-cli', '--no-tls', '--no-dtls', '--min-port=49300', '--max-port=49400',
    `--userdb=${path.join(dir, 'turndb')}`, `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    '--log-file=stdout', '--simple-log', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (chunk) => { log += chunk; });
  child.stderr.on('data', (chunk) => { log += chunk; });
  for (let i = 0; i < 100 && !log.includes('Total General servers'); i += 1) await new Promise((r) => setTimeout(r, 50));
  return {
    port,
    log: () => log,
    async stop() { child.kill('SIGTERM'); await new Promise((r) => child.once('exit', r)); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** An init script that keeps every RTCPeerConnection a page creates in `window.__peerConnections`. */
export function keepPeerConnections() {
  const Original = window.RTCPeerConnection;
  window.__peerConnections = [];
  window.RTCPeerConnection = function RTCPeerConnection(...args) {
    const pc = new Original(...args);
    window.__peerConnections.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Original.prototype;
}

/** The candidate types of the pair media flows on, in the page's last peer connection. */
export async function selectedCandidatePair(page) {
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

/**
 * Why nftables rules may not be installed here, or null: only as root, in a network namespace
 * that has nothing but `lo` (the suite's own, under `unshare --net`).
 */
export function whyNoNftables() {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status !== 0) return 'nft (Debian package nftables) is not installed';
  const links = spawnSync('ip', ['-o', 'link', 'show']);
  if (links.status !== 0) return 'cannot list the network interfaces';
  const names = links.stdout.toString().trim().split('\n').map((line) => line.split(':')[1].trim().split('@')[0]);
  if (names.some((name) => name !== 'lo')) return `this network namespace has other interfaces (${names.join(', ')}); run the suite under unshare --net`;
  if (spawnSync('nft', ['list', 'tables'], { stdio: 'ignore' }).status !== 0) return 'nft cannot run';
  return null;
}

/** Drops every UDP packet on arrival (media; signaling is TCP) until `allowUdp(table)`. */
export function dropUdp(table) {
  const rules = `table inet ${table} {\n  chain in {\n    type filter hook input priority 0; policy accept;\n    meta l4proto udp drop\n  }\n}\n`;
  const done = spawnSync('nft', ['-f', '-'], { input: rules });
  if (done.status !== 0) throw new Error(`nft: ${done.stderr}`);
}

export function allowUdp(table) {
  spawnSync('nft', ['delete', 'table', 'inet', table], { stdio: 'ignore' });
}
