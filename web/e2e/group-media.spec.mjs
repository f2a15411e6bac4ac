// Group calls in Chromium through the media server: three pages in one call each see the two
// others' decoded video and receive their audio; a 1:1 call that gains a third participant goes
// on through the media server; a muted participant's audio stops reaching the others; a device
// failure during a call lands on the call's timeline. Every page is a real browser page of the web
// app, every frame crosses the real server's media server on loopback.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answer, call, launch, readOutcomes, screenshot, seesRemoteVideo, signIn, startServer } from './harness.mjs';

const KEY = 'e2e-key';

async function timeline(server, callId) {
  const response = await fetch(`${server.url}/calls/${callId}`, { headers: { Authorization: `Bearer ${KEY}` } });
  assert.ok(response.ok, `GET /calls/${callId}: ${response.status}`);
  return (await response.json()).timeline || [];
}

/** Alice starts a joinable group call from the app; the others join it by its id. */
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
  return { id, sides };
}

/**
 * Waits until the grid of `side` shows the video of every identity in `others`, each advancing:
 * decoded frames counted by the <video> itself, not just a track that exists.
 */
async function seesEveryone(side, others) {
  await side.page.waitForFunction((identities) => identities.every((identity) => {
    const tile = document.querySelector(`#grid .tile[data-identity="${identity}"][data-video="shown"]`);
    const video = tile && tile.querySelector('video');
    return video && video.videoWidth > 0 && video.getVideoPlaybackQuality().totalVideoFrames > 3;
  }), others, { timeout: 30000 });
  // Then frames keep coming: at least 5 new decoded frames of each within one second (a sender's
  // encoder starts slowly on a busy machine, so the second may take a few tries).
  let progress = [];
  for (let attempt = 0; attempt < 15; attempt += 1) {
    progress = await side.page.evaluate(async (identities) => {
      const frames = () => identities.map((identity) => document.querySelector(`#grid .tile[data-identity="${identity}"] video`).getVideoPlaybackQuality().totalVideoFrames);
      const before = frames();
      await new Promise((r) => setTimeout(r, 1000));
      return frames().map((n, i) => n - before[i]);
    }, others);
    if (progress.every((added) => added >= 5)) return;
  }
  assert.fail(`the video froze on this page: ${JSON.stringify(progress)} new frames in 1 s of ${JSON.stringify(others)}`);
}

/** Audio packets received from each participant, by identity, through the media server. */
async function audioPackets(side) {
  return side.page.evaluate(async () => {
    const out = {};
    for (const p of window.appel.state.call.remoteParticipants) {
      if (p.state !== 'Disconnected') out[p.identity] = (await p.audioStats()).packetsReceived;
    }
    return out;
  });
}

async function hearsEveryone(side, others) {
  const first = await audioPackets(side);
  await new Promise((r) => setTimeout(r, 1000));
  const then = await audioPackets(side);
  for (const identity of others) {
    assert.ok((then[identity] || 0) - (first[identity] || 0) >= 20, `no audio of ${identity}: ${JSON.stringify({ first, then })}`);
  }
}

describe('group calls through the media server', () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launch();
  });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('three pages in one group call each see and hear the two others', async () => {
    const { sides } = await groupCall(browser, server, ['Alice', 'Bob', 'Carol']);
    for (const side of sides) {
      const others = sides.filter((s) => s !== side).map((s) => s.identity);
      await seesEveryone(side, others);
      await hearsEveryone(side, others);
      assert.equal(await side.page.evaluate(() => window.appel.state.call.usesMediaServer), true);
      assert.equal(await side.page.locator('#grid .tile').count(), 3, 'two others and oneself');
    }
    await screenshot(sides[0].page, 'group-call-grid.png');
    // The organizer ends it for everyone: the two others see 0/4097.
    await sides[0].page.click('#end-all');
    for (const side of sides.slice(1)) {
      await side.page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
      assert.equal(await side.page.evaluate(() => document.body.dataset.endReason), '0/4097');
    }
    for (const side of sides) await side.page.context().close();
  });

  test("two pages join a room's call by its id and see each other in the grid", async () => {
    const lea = await signIn(browser, server, 'Lea');
    const max = await signIn(browser, server, 'Max');
    const response = await fetch(`${server.url}/rooms`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ participants: [{ identity: lea.identity, role: 'Presenter' }, { identity: max.identity, role: 'Attendee' }] }),
    });
    assert.ok(response.ok, `POST /rooms: ${response.status}`);
    const room = (await response.json()).id;
    for (const side of [lea, max]) {
      await side.page.fill('#join-id', room);
      await side.page.click('#join-room-button');
      await side.page.waitForSelector('body[data-screen="call"]');
    }
    await seesEveryone(lea, [max.identity]);
    await seesEveryone(max, [lea.identity]);
    await hearsEveryone(max, [lea.identity]);
    // Nobody ends a room's call for everyone: the refusal shows, and the call goes on.
    await lea.page.click('#end-all');
    await lea.page.waitForFunction(() => document.body.dataset.lastError === '403/900501');
    assert.equal(await max.page.evaluate(() => document.body.dataset.screen), 'call');
    for (const side of [lea, max]) await side.page.context().close();
  });

  test("a muted participant's audio stops reaching the others while the rest is still heard", async () => {
    const { sides } = await groupCall(browser, server, ['Dan', 'Erin', 'Fay']);
    const [dan, erin, fay] = sides;
    await seesEveryone(erin, [dan.identity, fay.identity]);
    await hearsEveryone(erin, [dan.identity, fay.identity]);
    await dan.page.click('#mute');
    await erin.page.waitForSelector(`#grid .tile[data-identity="${dan.identity}"][data-muted="true"]`);
    // The grid speaks the page's language: the indicator and the group call's buttons in French.
    await erin.page.selectOption('#locale', 'fr');
    assert.equal(await erin.page.textContent(`#grid .tile[data-identity="${dan.identity}"] .muted-indicator`), 'micro coupé');
    assert.equal(await erin.page.textContent('#invite-button'), 'Inviter');
    assert.equal(await erin.page.textContent('#end-all'), 'Terminer pour tous');
    assert.equal(await erin.page.textContent('#peer'), 'Appel de groupe');
    // Packets already on their way when the server took the mute may still land.
    await new Promise((r) => setTimeout(r, 800));
    const before = await audioPackets(erin);
    await new Promise((r) => setTimeout(r, 1500));
    const afterMute = await audioPackets(erin);
    assert.equal(afterMute[dan.identity], before[dan.identity], `Dan's muted audio still reaches Erin: ${JSON.stringify({ before, afterMute })}`);
    assert.ok(afterMute[fay.identity] - before[fay.identity] >= 30, 'Fay is still heard');
    // Unmuted, he is heard again.
    await dan.page.click('#mute');
    await hearsEveryone(erin, [dan.identity]);
    for (const side of sides) await side.page.context().close();
  });

  test('a 1:1 call that gains a third participant goes on through the media server, all three seeing each other', async () => {
    const gus = await signIn(browser, server, 'Gus');
    const hana = await signIn(browser, server, 'Hana');
    const ivan = await signIn(browser, server, 'Ivan');
    await call(gus, hana);
    await answer(gus, hana);
    await seesRemoteVideo(gus.page);
    assert.equal(await gus.page.evaluate(() => window.appel.state.call.usesMediaServer), false, 'peer to peer while 1:1');
    const ended = [];
    for (const side of [gus, hana]) {
      await side.page.evaluate(() => { window.endedEarly = false; window.appel.state.call.on('ended', () => { window.endedEarly = true; }); });
    }
    await gus.page.fill('#invite-identity', ivan.identity);
    await gus.page.click('#invite-button');
    await ivan.page.waitForSelector('body[data-screen="incoming"]');
    await ivan.page.click('#accept-video');
    await ivan.page.waitForSelector('body[data-screen="call"]');
    const all = [gus, hana, ivan];
    for (const side of all) {
      const others = all.filter((s) => s !== side).map((s) => s.identity);
      await seesEveryone(side, others);
      await hearsEveryone(side, others);
    }
    for (const side of [gus, hana]) {
      assert.equal(await side.page.evaluate(() => document.body.dataset.screen), 'call');
      ended.push(await side.page.evaluate(() => window.endedEarly));
      assert.equal(await side.page.evaluate(() => window.appel.state.call.usesMediaServer), true);
      // Its peer-to-peer connection is closed once media flows through the server: the tracks it
      // received have ended.
      await side.page.waitForFunction(() => {
        const tracks = window.appel.state.call.remoteMediaStream.getTracks();
        return tracks.length > 0 && tracks.every((track) => track.readyState === 'ended');
      }, null, { timeout: 15000 });
    }
    assert.deepEqual(ended, [false, false], 'the 1:1 call never ended on the way');
    for (const side of all) await side.page.context().close();
  });

  test('a device failure during a call is reported on its timeline (deviceError); a camera or microphone ending under the SDK is 900710/900711 and the call goes on', async () => {
    const { id, sides } = await groupCall(browser, server, ['Jo', 'Kim']);
    const [, kim] = sides;
    await seesEveryone(kim, [sides[0].identity]);
    await readOutcomes(kim.page);
    const refused = await kim.page.evaluate(async () => {
      const callNow = window.appel.state.call;
      const [stream] = callNow.localVideoStreams;
      const camera = (await window.appel.state.client.getDeviceManager().getCameras()).find((c) => c.id === stream.source.id) || { id: stream.source.id, name: stream.source.name, kind: 'videoinput' };
      return window.outcome(stream.switchSource(camera));
    });
    assert.equal(refused.subCode, 43005);
    let entry;
    for (let i = 0; i < 50 && !entry; i += 1) {
      entry = (await timeline(server, id)).find((e) => e.kind === 'deviceError');
      if (!entry) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(entry, `no deviceError on the timeline: ${JSON.stringify(await timeline(server, id))}`);
    assert.match(JSON.stringify(entry.detail), /43005 SWITCH_CAMERA_SAME_DEVICE: /);
    assert.match(JSON.stringify(entry.detail), new RegExp(kim.identity));

    // Kim's camera and microphone end under the SDK (as when unplugged: the browser ends the
    // track and fires `ended`, which its own `stop()` never does). The call goes on without them.
    const failures = await kim.page.evaluate(async () => {
      const callNow = window.appel.state.call;
      const seen = [];
      callNow.on('videoFailed', (e) => seen.push(['video', e.subCode]));
      callNow.on('microphoneFailed', (e) => seen.push(['microphone', e.subCode]));
      for (const track of [callNow.localVideoStreams[0].getMediaStream().getVideoTracks()[0], callNow.localAudioStream.getAudioTracks()[0]]) {
        track.stop();
        track.dispatchEvent(new Event('ended'));
      }
      return { seen, videoOn: callNow.isVideoOn, state: callNow.state };
    });
    assert.deepEqual(failures, { seen: [['video', 900710], ['microphone', 900711]], videoOn: false, state: 'Connected' });
    // Jo's tile of Kim stops showing video, and the timeline says why.
    await sides[0].page.waitForSelector(`#grid .tile[data-identity="${kim.identity}"][data-video="none"]`, { timeout: 15000 });
    let details = '';
    for (let i = 0; i < 50 && !/900711/.test(details); i += 1) {
      details = JSON.stringify((await timeline(server, id)).filter((e) => e.kind === 'deviceError'));
      if (!/900711/.test(details)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(details, /900710 CAMERA_ENDED_DURING_CALL: /);
    assert.match(details, /900711 MICROPHONE_ENDED_DURING_CALL: /);
    // The media-server connection is on the timeline as a peer-to-peer one is: connected, and its
    // ICE states, from both pages.
    const entries = await timeline(server, id);
    for (const side of sides) {
      const mine = entries.filter((e) => JSON.stringify(e.detail).includes(side.identity));
      assert.ok(mine.some((e) => e.kind === 'mediaConnected'), `no mediaConnected of ${side.identity}: ${JSON.stringify(entries)}`);
      assert.ok(mine.some((e) => e.kind === 'iceState' && /connected/.test(JSON.stringify(e.detail))), `no iceState of ${side.identity}`);
    }
    for (const side of sides) await side.page.context().close();
  });
});
