// Simulcast in Chromium: in a group call every camera goes to the media server in layers, and each
// page receives the layer that fits the size its views render at (docs/web-media.md). The sizes
// are the web app's own grid tiles, styled small on one page and large on another; what arrives is
// read from the receiver's statistics (the decoded frame size), not from what the SDK asked for.
// A server that lets each participant receive a single video refuses a second view with 43204.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launch, readOutcomes, signIn, startServer } from './harness.mjs';

/** The first page starts a joinable group call from the app; the others join it by its id. */
async function groupCall(browser, server, names) {
  const sides = [];
  for (const name of names) sides.push(await signIn(browser, server, name));
  const [first, ...others] = sides;
  await first.page.click('#group-button');
  await first.page.waitForSelector('body[data-screen="call"]');
  await first.page.waitForFunction(() => /^[0-9a-f]{16,}/.test(document.getElementById('call-id').textContent));
  const id = await first.page.textContent('#call-id');
  for (const side of others) {
    await side.page.fill('#join-id', id);
    await side.page.click('#join-button');
    await side.page.waitForSelector('body[data-screen="call"]');
  }
  return sides;
}

/** Makes the app's grid tiles `width` CSS pixels wide (4:3), whatever the window. */
async function tileWidth(side, width) {
  await side.page.evaluate((w) => {
    let style = document.getElementById('tile-size');
    if (!style) {
      style = document.createElement('style');
      style.id = 'tile-size';
      document.head.append(style);
    }
    style.textContent = `#grid { grid-template-columns: repeat(3, ${w}px) !important; }`;
  }, width);
}

/** The receiver's statistics of `identity`'s video on `side`: the layer it gets. */
async function videoOf(side, identity) {
  return side.page.evaluate(async (who) => {
    const p = window.appel.state.call.remoteParticipants.find((r) => r.identity === who);
    return p ? p.videoStreams[0].stats() : null;
  }, identity);
}

/** Polls until `check(stats of every side)` holds; fails with the last statistics. */
async function until(what, read, check, ms = 30000, server = null) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await read();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  // The media server's own account of the subscribers' paths, when it stepped a layer down.
  const congestion = server ? server.log().split('\n').filter((l) => /congested/.test(l)).slice(-5).join('\n') : '';
  assert.fail(`${what}: ${JSON.stringify(last)}${congestion ? `\n${congestion}` : ''}`);
}

/**
 * Decoded frames of the grid tile of `identity` within one second: the most of up to ten tries
 * (three browsers share a busy machine, so one second may pass with few frames).
 */
async function tileFrames(side, identity) {
  let most = 0;
  for (let attempt = 0; attempt < 10 && most < 5; attempt += 1) {
    most = Math.max(most, await side.page.evaluate(async (who) => {
      const video = document.querySelector(`#grid .tile[data-identity="${who}"] video`);
      if (!video) return 0;
      const before = video.getVideoPlaybackQuality().totalVideoFrames;
      await new Promise((r) => setTimeout(r, 1000));
      return video.getVideoPlaybackQuality().totalVideoFrames - before;
    }, identity));
  }
  return most;
}

describe('simulcast layers chosen by the size of the views', () => {
  let server;
  let browser;
  before(async () => {
    // The media server says (at debug level) when a path's congestion steps a layer down.
    server = await startServer({ RUST_LOG: 'info,appel_media=debug' });
    browser = await launch();
  });
  after(async () => { await browser?.close(); await server?.stop(); });

  test("a small view receives a lower layer of a publisher's camera than a large one, and a resize switches it", async () => {
    const sides = await groupCall(browser, server, ['Ana', 'Ben', 'Cid']);
    const [ana, ben, cid] = sides;
    assert.equal(await ana.page.evaluate(() => window.appel.state.call.usesMediaServer), true);
    // 48 px is under the smallest layer even when a busy publisher's browser lowers its camera's
    // resolution (which scales every layer alike); 640 px is over the largest.
    await tileWidth(ben, 48);
    await tileWidth(cid, 640);
    const read = async () => ({ small: await videoOf(ben, ana.identity), large: await videoOf(cid, ana.identity) });
    const first = await until('the small view never got a lower layer than the large one', read,
      ({ small, large }) => small && large && small.frameWidth > 0 && large.frameWidth > 0
        && small.frameWidth * 2 <= large.frameWidth, 30000, server);
    console.log(`received of one camera: small tiles ${first.small.frameWidth}×${first.small.frameHeight}, large tiles ${first.large.frameWidth}×${first.large.frameHeight}`);
    // Ben makes his tiles large: his next frames of Ana come in the higher layer; Cid's become
    // small and move down.
    await tileWidth(ben, 640);
    await tileWidth(cid, 48);
    const swapped = await until('a resize did not switch the layers', read,
      ({ small, large }) => small.frameWidth >= 2 * large.frameWidth && large.frameWidth > 0, 30000, server);
    // Frames keep coming after the switch (on a loaded machine, within a few seconds; the media
    // server may step a congested path down a layer meanwhile, which is its job).
    const later = swapped.small.framesDecoded;
    await until("Ben's video of Ana froze after the switch", () => videoOf(ben, ana.identity),
      (now) => now.framesDecoded - later >= 5, 15000, server);
    for (const side of sides) await side.page.context().close();
  });
});

describe('a limit of one video per participant', () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer({ APPEL_MEDIA_MAX_VIDEO_SUBSCRIPTIONS: '1' });
    browser = await launch();
  });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('a second view fails with 43204 while the first still renders; disposing the first frees its place for the other; a view of one who left is 43200', async () => {
    const sides = await groupCall(browser, server, ['Dee', 'Eve', 'Fox']);
    const [dee, eve, fox] = sides;
    await readOutcomes(dee.page);
    // Dee's grid shows one of the two others: the server sends her only one video.
    await dee.page.waitForSelector('#grid .tile[data-video="shown"]:not([data-identity="' + dee.identity + '"])', { timeout: 30000 });
    const shown = await dee.page.evaluate(() => [...document.querySelectorAll('#grid .tile[data-video="shown"]')].map((t) => t.dataset.identity));
    assert.equal(shown.length, 1, `tiles with video: ${JSON.stringify(shown)}`);
    const [first] = shown;
    const other = [eve, fox].find((s) => s.identity !== first).identity;
    // A view of the other video through the SDK itself: refused by the media server.
    const refused = await dee.page.evaluate(async (who) => {
      const { VideoStreamRenderer } = await import('/app/pkg/appel_web.js');
      const p = window.appel.state.call.remoteParticipants.find((r) => r.identity === who);
      const renderer = new VideoStreamRenderer(p.videoStreams[0]);
      const outcome = await window.outcome(renderer.createView({ timeoutMs: 10000 }));
      renderer.dispose();
      return outcome;
    }, other);
    assert.ok(refused, 'the second view was created');
    assert.deepEqual([refused.code, refused.subCode, refused.name], [500, 43204, 'VIDEO_SUBSCRIPTION_FAILED'], JSON.stringify(refused));
    assert.match(String(refused.rawCause), /\S/, 'the server says why');
    // The first still renders, and the refused one left no video behind.
    assert.ok(await tileFrames(dee, first) >= 5, 'the first video stopped');
    assert.equal(await dee.page.locator(`#grid .tile[data-identity="${other}"][data-video="shown"]`).count(), 0);
    // The first publisher turns its camera off: Dee's grid disposes its view of it, which pauses
    // that video (0×0) and frees its place, so the other video, which the grid keeps asking for,
    // now comes (the server counts a silent video as long as it is not paused).
    const firstSide = first === eve.identity ? eve : fox;
    await firstSide.page.click('#video');
    await dee.page.waitForSelector(`#grid .tile[data-identity="${other}"][data-video="shown"]`, { timeout: 30000 });
    assert.ok(await tileFrames(dee, other) >= 5, 'the other video does not play');
    // Its camera back on, the first's video is now the one beyond the limit.
    await firstSide.page.click('#video');
    await dee.page.waitForFunction((who) => window.appel.state.call.remoteParticipants.find((r) => r.identity === who).videoStreams[0].isAvailable, first, { timeout: 15000 });
    const nowRefused = await dee.page.evaluate(async (who) => {
      const { VideoStreamRenderer } = await import('/app/pkg/appel_web.js');
      window.staleStream = window.appel.state.call.remoteParticipants.find((r) => r.identity === who).videoStreams[0];
      const renderer = new VideoStreamRenderer(window.staleStream);
      const outcome = await window.outcome(renderer.createView({ timeoutMs: 10000 }));
      renderer.dispose();
      return outcome;
    }, first);
    assert.equal(nowRefused && nowRefused.subCode, 43204, JSON.stringify(nowRefused));
    // The first publisher leaves.
    await firstSide.page.click('#hangup');
    await dee.page.waitForFunction((who) => window.appel.state.call.remoteParticipants.every((r) => r.identity !== who || r.state === 'Disconnected'), first, { timeout: 15000 });
    // A view of the participant who left: the SDK knows it is gone and refuses it itself (43200),
    // without asking the server.
    const gone = await dee.page.evaluate(async () => {
      const { VideoStreamRenderer } = await import('/app/pkg/appel_web.js');
      const renderer = new VideoStreamRenderer(window.staleStream);
      return window.outcome(renderer.createView({ timeoutMs: 5000 }));
    });
    assert.equal(gone && gone.subCode, 43200, JSON.stringify(gone));
    for (const side of sides) await side.page.context().close();
  });
});
