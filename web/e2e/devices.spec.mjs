// Cameras, microphones, speakers, local video streams and remote views in Chromium: every failure
// is made by the browser's own situation (no device, a refused prompt, a second camera, a page
// outside a secure context, a stream the page made), except where Chromium cannot make it (a
// device another program holds, a prompt nobody answers): there the page's getUserMedia rejects
// with the DOMException Chromium itself would give.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answer, call, launchWith, readOutcomes, remoteVideoProgress, signIn, startServer } from './harness.mjs';

/** Two signed-in pages in a connected call (the caller with video when `video`). */
async function connected(browser, server, callerName, calleeName, { video = true, calleeVideo = video } = {}) {
  const caller = await signIn(browser, server, callerName);
  const callee = await signIn(browser, server, calleeName);
  for (const side of [caller, callee]) await readOutcomes(side.page);
  await call(caller, callee, { video });
  await answer(caller, callee, { video: calleeVideo });
  return { caller, callee };
}

async function hangUp(side) {
  await side.page.click('#hangup');
  await side.page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
}

/** Starts a call from the page itself (so its handlers are on before any device is asked for). */
async function startCallWatched(page, target, options) {
  await page.evaluate(({ target, options }) => {
    const call = window.appel.state.agent.startCall([target], options);
    window.watched = { call, events: {} };
    for (const event of ['videoFailed', 'microphoneFailed']) {
      call.on(event, (e) => { window.watched.events[event] = window.errorOf(e); });
    }
  }, { target, options });
}

describe('three cameras, a microphone and speakers (fake devices)', () => {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launchWith({ fakeDevices: 'device-count=3', extraArgs: ['--host-resolver-rules=MAP appel.test 127.0.0.1'] });
  });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('video started twice is 41027 and stopped twice 41030; screen share started twice is 41035 and stopped twice 41041', async () => {
    const { caller, callee } = await connected(browser, server, 'vera', 'walt');
    const out = await caller.page.evaluate(async () => {
      const call = window.appel.state.call;
      const r = { on: call.isVideoOn };
      r.startAgain = await window.outcome(call.startVideo());
      r.stop = await window.outcome(call.stopVideo());
      r.off = call.isVideoOn;
      r.stopAgain = await window.outcome(call.stopVideo());
      r.share = await window.outcome(call.startScreenShare());
      r.sharing = call.isVideoOn;
      r.shareAgain = await window.outcome(call.startScreenShare());
      r.unshare = await window.outcome(call.stopScreenShare());
      r.unshareAgain = await window.outcome(call.stopScreenShare());
      return r;
    });
    assert.equal(out.on, true);
    assert.deepEqual([out.startAgain.code, out.startAgain.subCode, out.startAgain.name], [400, 41027, 'VIDEO_ALREADY_STARTED']);
    assert.equal(out.stop, null);
    assert.equal(out.off, false);
    assert.deepEqual([out.stopAgain.code, out.stopAgain.subCode, out.stopAgain.name], [400, 41030, 'VIDEO_ALREADY_STOPPED']);
    assert.equal(out.share, null, 'Chromium shares its fake screen');
    assert.equal(out.sharing, true);
    assert.deepEqual([out.shareAgain.subCode, out.shareAgain.name], [41035, 'SCREEN_SHARE_ALREADY_STARTED']);
    assert.equal(out.unshare, null);
    assert.deepEqual([out.unshareAgain.subCode, out.unshareAgain.name], [41041, 'SCREEN_SHARE_ALREADY_STOPPED']);
    assert.ok(out.unshareAgain.advice.length > 0);
    await hangUp(caller);
    await callee.page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
  });

  test('mute and unmute of a microphone stopped under the SDK are 41015 and 41016', async () => {
    const { caller } = await connected(browser, server, 'ruth', 'saul', { video: false, calleeVideo: false });
    const out = await caller.page.evaluate(async () => {
      const call = window.appel.state.call;
      const [microphone] = call.localAudioStream.getAudioTracks();
      const before = await window.outcome(call.mute());
      const enabledWhileMuted = microphone.enabled;
      const back = await window.outcome(call.unmute());
      // Another part of the page (or the browser, when the device goes) ends the track.
      microphone.stop();
      return { before, enabledWhileMuted, back, mute: await window.outcome(call.mute()), unmute: await window.outcome(call.unmute()), muted: call.isMuted };
    });
    assert.deepEqual([out.before, out.enabledWhileMuted, out.back], [null, false, null]);
    assert.deepEqual([out.mute.code, out.mute.subCode, out.mute.name], [500, 41015, 'MUTE_FAILED']);
    assert.deepEqual([out.unmute.code, out.unmute.subCode, out.unmute.name], [400, 41016, 'UNMUTE_FAILED']);
    assert.equal(out.muted, false, 'a failed mute changes nothing');
    await hangUp(caller);
  });

  test('switchSource moves the sent video to the other camera; the same camera is 43005, a microphone 43004, stopVideo of a stream not sent 41032', async () => {
    const { caller, callee } = await connected(browser, server, 'xena', 'yann');
    const out = await caller.page.evaluate(async () => {
      const { LocalVideoStream } = await import('/app/pkg/appel_web.js');
      const call = window.appel.state.call;
      const devices = window.appel.state.client.getDeviceManager();
      const cameras = await devices.getCameras();
      const [stream] = call.localVideoStreams;
      const before = stream.source.id;
      // Chromium's second fake camera gives 16-bit depth frames, which WebRTC does not send; its
      // third is an ordinary one.
      const other = cameras.find((c) => c.name === 'fake_device_2' && c.id !== before);
      const switched = await window.outcome(stream.switchSource(other));
      const track = stream.getMediaStream().getVideoTracks()[0];
      const same = await window.outcome(stream.switchSource(other));
      const microphone = (await devices.listDevices('audioinput'))[0];
      const notCamera = await window.outcome(stream.switchSource(microphone));
      const idle = new LocalVideoStream(cameras.find((c) => c.id === before));
      const notSent = await window.outcome(call.stopVideo(idle));
      return {
        cameras: cameras.length, before, other: other.id, otherName: other.name, now: call.localVideoStreams[0].source.id,
        label: track.label, live: track.readyState, switched, same, notCamera, notSent, on: call.isVideoOn,
      };
    });
    assert.equal(out.cameras, 3);
    assert.notEqual(out.before, '');
    assert.equal(out.switched, null);
    assert.equal(out.now, out.other, 'the stream the call sends names the new camera');
    assert.equal(out.label, out.otherName, 'the track sent is the new camera');
    assert.equal(out.live, 'live');
    assert.deepEqual([out.same.code, out.same.subCode, out.same.name], [400, 43005, 'SWITCH_CAMERA_SAME_DEVICE']);
    assert.deepEqual([out.notCamera.code, out.notCamera.subCode, out.notCamera.name], [400, 43004, 'SWITCH_CAMERA_INVALID_INPUT']);
    assert.deepEqual([out.notSent.code, out.notSent.subCode, out.notSent.name], [400, 41032, 'STOP_VIDEO_STREAM_NOT_SENT']);
    assert.equal(out.on, true, 'a refused stopVideo leaves the video on');
    const video = await remoteVideoProgress(callee.page);
    assert.ok(video.newFrames > 0, `the other side still gets frames after the switch: ${JSON.stringify(video)}`);
    await hangUp(caller);
  });

  test("a page's canvas stream is sent as video; an empty or ended stream is 41025, one without video 43017", async () => {
    const { caller, callee } = await connected(browser, server, 'zoe', 'abel', { video: false, calleeVideo: false });
    const out = await caller.page.evaluate(async () => {
      const { LocalVideoStream } = await import('/app/pkg/appel_web.js');
      const call = window.appel.state.call;
      const canvas = document.createElement('canvas');
      canvas.width = 320; canvas.height = 240;
      const context = canvas.getContext('2d');
      let n = 0;
      window.painter = setInterval(() => { context.fillStyle = `hsl(${(n += 15) % 360}, 80%, 50%)`; context.fillRect(0, 0, 320, 240); }, 40);
      const empty = await window.outcome(call.startVideo(new LocalVideoStream(new MediaStream())));
      const ended = canvas.captureStream(20);
      ended.getVideoTracks()[0].stop();
      const stopped = await window.outcome(call.startVideo(new LocalVideoStream(ended)));
      const sound = new AudioContext().createMediaStreamDestination().stream;
      const noVideo = await window.outcome(call.startVideo(new LocalVideoStream(sound)));
      const notAStream = await window.outcome(call.startVideo(canvas));
      const painted = canvas.captureStream(20);
      window.painted = painted;
      window.custom = new LocalVideoStream(painted);
      const started = await window.outcome(call.startVideo(window.custom));
      return { empty, stopped, noVideo, notAStream, started, type: window.custom.mediaStreamType, source: window.custom.source, sent: call.localVideoStreams[0].mediaStreamType };
    });
    for (const refused of [out.empty, out.stopped, out.notAStream]) {
      assert.deepEqual([refused.code, refused.subCode, refused.name], [400, 41025, 'START_VIDEO_INVALID_STREAM']);
    }
    assert.deepEqual([out.noVideo.code, out.noVideo.subCode, out.noVideo.name], [412, 43017, 'UNSUPPORTED_VIDEO_STREAM']);
    assert.equal(out.started, null);
    assert.deepEqual([out.type, out.source, out.sent], ['Custom', null, 'Custom']);
    const video = await remoteVideoProgress(callee.page);
    assert.deepEqual([video.width, video.height], [320, 240], 'the other side shows the canvas');
    assert.ok(video.newFrames > 0);
    const stopped = await caller.page.evaluate(async () => {
      const call = window.appel.state.call;
      const result = await window.outcome(call.stopVideo(window.custom));
      return { result, on: call.isVideoOn, track: window.painted.getVideoTracks()[0].readyState };
    });
    assert.deepEqual(stopped, { result: null, on: false, track: 'live' }, "the page's own track keeps running");
    await hangUp(caller);
  });

  test('constraints the camera cannot meet are 43018; a camera of another browser profile is 43019', async () => {
    const { caller, callee } = await connected(browser, server, 'bert', 'cleo');
    const foreign = await callee.page.evaluate(async () => (await window.appel.state.client.getDeviceManager().getCameras())[0].id);
    const out = await caller.page.evaluate(async (foreignId) => {
      const { LocalVideoStream } = await import('/app/pkg/appel_web.js');
      const call = window.appel.state.call;
      await call.stopVideo();
      const cameras = await window.appel.state.client.getDeviceManager().getCameras();
      const huge = await window.outcome(call.startVideo(new LocalVideoStream(cameras[0], { constraints: { width: { min: 100000 } } })));
      const elsewhere = await window.outcome(call.startVideo(new LocalVideoStream({ id: foreignId, name: 'camera of another profile', kind: 'videoinput' })));
      const own = await window.outcome(call.startVideo(new LocalVideoStream(cameras[1], { constraints: { width: { max: 640 } } })));
      return { huge, elsewhere, own, ids: cameras.map((c) => c.id), on: call.isVideoOn };
    }, foreign);
    assert.ok(!out.ids.includes(foreign), 'each profile has its own device ids');
    assert.deepEqual([out.huge.code, out.huge.subCode, out.huge.name], [412, 43018, 'VIDEO_CONSTRAINTS_FAILED']);
    assert.match(out.huge.rawCause, /OverconstrainedError/);
    assert.deepEqual([out.elsewhere.code, out.elsewhere.subCode, out.elsewhere.name], [412, 43019, 'NO_VIDEO_DEVICE_SELECTED']);
    assert.equal(out.own, null, 'constraints the camera can meet work');
    assert.equal(out.on, true);
    await hangUp(caller);
  });

  test('speakers are listed and selected in a secure page; a page outside a secure context gets 40606', async () => {
    const { page } = await signIn(browser, server, 'dora');
    await readOutcomes(page);
    const secure = await page.evaluate(async () => {
      const devices = window.appel.state.client.getDeviceManager();
      const speakers = await devices.getSpeakers();
      const element = document.createElement('audio');
      const selected = await window.outcome(devices.selectSpeaker(element, speakers[speakers.length - 1].id));
      return { count: speakers.length, selected, sink: element.sinkId === speakers[speakers.length - 1].id };
    });
    assert.ok(secure.count >= 1);
    assert.deepEqual([secure.selected, secure.sink], [null, true]);
    // The same server by a name that is not loopback: Chromium treats the page as insecure and
    // gives it no media devices API.
    const context = await browser.newContext();
    const insecure = await context.newPage();
    await insecure.goto(server.url.replace('127.0.0.1', 'appel.test'));
    await insecure.waitForSelector('body[data-ready="true"]');
    await readOutcomes(insecure);
    const out = await insecure.evaluate(async () => {
      const { CallClient } = await import('/app/pkg/appel_web.js');
      const devices = new CallClient({}).getDeviceManager();
      return {
        secure: window.isSecureContext,
        list: await window.outcome(devices.getSpeakers()),
        listed: await window.outcome(devices.listDevices('audiooutput')),
        select: await window.outcome(devices.selectSpeaker(document.createElement('audio'), 'default')),
      };
    });
    assert.equal(out.secure, false);
    for (const refused of [out.list, out.listed, out.select]) {
      assert.deepEqual([refused.code, refused.subCode, refused.name], [405, 40606, 'SPEAKER_SELECTION_UNSUPPORTED']);
    }
    await context.close();
  });

  test('remote views: 43200 without remote video, 43203 when no frame comes in time, 43202 when the remote video stops, 43209 when disposed while waiting, 43210 disposed twice', async () => {
    const { caller, callee } = await connected(browser, server, 'emil', 'fanny', { video: false, calleeVideo: false });
    const none = await caller.page.evaluate(async () => {
      window.renderer = window.appel.state.call.createRemoteRenderer();
      return window.outcome(window.renderer.createView());
    });
    assert.deepEqual([none.code, none.subCode, none.name], [412, 43200, 'REMOTE_STREAM_NOT_AVAILABLE']);
    // The callee sends a canvas that is never painted: video is announced, no frame ever comes.
    const sendStill = () => callee.page.evaluate(async () => {
      const { LocalVideoStream } = await import('/app/pkg/appel_web.js');
      window.canvas = window.canvas || Object.assign(document.createElement('canvas'), { width: 160, height: 120 });
      return window.outcome(window.appel.state.call.startVideo(new LocalVideoStream(window.canvas.captureStream(0))));
    });
    const remoteVideoOn = (on) => caller.page.waitForFunction((want) => window.appel.state.call.isRemoteVideoAvailable === want, on, { timeout: 10000 });
    assert.equal(await sendStill(), null);
    await remoteVideoOn(true);
    const late = await caller.page.evaluate(async () => {
      const started = Date.now();
      const error = await window.outcome(window.renderer.createView({ timeoutMs: 1500 }));
      return { error, waited: Date.now() - started, active: window.appel.state.client.activeRemoteViews };
    });
    assert.deepEqual([late.error.code, late.error.subCode, late.error.name], [408, 43203, 'VIEW_FRAMES_TIMEOUT']);
    assert.ok(late.waited >= 1400, `waited ${late.waited} ms`);
    assert.equal(late.active, 0, 'the view that timed out gave its place back');

    await caller.page.evaluate(() => { window.pending = window.outcome(window.renderer.createView({ timeoutMs: 30000 })); });
    assert.equal(await callee.page.evaluate(() => window.outcome(window.appel.state.call.stopVideo())), null);
    const gone = await caller.page.evaluate(() => window.pending);
    assert.deepEqual([gone.code, gone.subCode, gone.name], [404, 43202, 'REMOTE_STREAM_NO_LONGER_AVAILABLE']);

    assert.equal(await sendStill(), null);
    await remoteVideoOn(true);
    const disposed = await caller.page.evaluate(async () => {
      const pending = window.outcome(window.renderer.createView({ timeoutMs: 30000 }));
      await new Promise((r) => setTimeout(r, 300));
      const whileWaiting = window.appel.state.client.activeRemoteViews;
      window.renderer.dispose();
      let second = null;
      try { window.renderer.dispose(); } catch (e) { second = window.errorOf(e); }
      return { during: await pending, second, whileWaiting, active: window.appel.state.client.activeRemoteViews };
    });
    assert.equal(disposed.whileWaiting, 1);
    assert.deepEqual([disposed.during.code, disposed.during.subCode, disposed.during.name], [405, 43209, 'RENDERER_DISPOSED_DURING_CREATE']);
    assert.deepEqual([disposed.second.code, disposed.second.subCode, disposed.second.name], [400, 43210, 'RENDERER_ALREADY_DISPOSED']);
    assert.equal(disposed.active, 0);

    // Once the canvas is painted the frames come, and a view shows them.
    const shown = await Promise.all([
      caller.page.evaluate(async () => {
        const view = await window.appel.state.call.createRemoteRenderer().createView({ timeoutMs: 10000 });
        return { width: view.target.videoWidth, tag: view.target.tagName };
      }),
      callee.page.evaluate(async () => {
        const context = window.canvas.getContext('2d');
        const [track] = window.appel.state.call.localVideoStreams[0].getMediaStream().getVideoTracks();
        for (let i = 0; i < 40; i += 1) {
          context.fillStyle = i % 2 ? 'red' : 'blue';
          context.fillRect(0, 0, 160, 120);
          track.requestFrame();
          await new Promise((r) => setTimeout(r, 50));
        }
      }),
    ]);
    assert.deepEqual(shown[0], { width: 160, tag: 'VIDEO' });
    await hangUp(caller);
  });
});

describe('a server that disables custom media streams', () => {
  test('a canvas stream is refused with 41073 while a camera still works', async () => {
    const server = await startServer({ APPEL_MEDIA_CUSTOM_STREAMS: 'false' });
    const browser = await launchWith();
    try {
      const { caller } = await connected(browser, server, 'gus', 'hana', { video: false, calleeVideo: false });
      const out = await caller.page.evaluate(async () => {
        const { LocalVideoStream } = await import('/app/pkg/appel_web.js');
        const call = window.appel.state.call;
        const canvas = Object.assign(document.createElement('canvas'), { width: 64, height: 64 });
        const custom = await window.outcome(call.startVideo(new LocalVideoStream(canvas.captureStream(10))));
        const camera = await window.outcome(call.startVideo());
        return { custom, camera, on: call.isVideoOn };
      });
      assert.deepEqual([out.custom.code, out.custom.subCode, out.custom.name], [412, 41073, 'CUSTOM_MEDIA_STREAM_DISABLED']);
      assert.deepEqual([out.camera, out.on], [null, true]);
      await hangUp(caller);
    } finally { await browser.close(); await server.stop(); }
  });
});

describe('no camera and no microphone', () => {
  let server;
  let browser;
  before(async () => { server = await startServer(); browser = await launchWith({ fakeDevices: false }); });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('a video call goes on without them: 41048 for the camera, 900641 for the microphone; mute 41015, unmute 41016, startVideo 43013, askDevicePermission 40614', async () => {
    const caller = await signIn(browser, server, 'ivan');
    const callee = await signIn(browser, server, 'jade');
    for (const side of [caller, callee]) await readOutcomes(side.page);
    await startCallWatched(caller.page, callee.identity, { video: true });
    await callee.page.waitForSelector('body[data-screen="incoming"]');
    await callee.page.click('#accept-video');
    await callee.page.waitForSelector('body[data-call-state="Connected"]', { timeout: 15000 });
    await caller.page.waitForFunction(() => window.watched.call.state === 'Connected', null, { timeout: 15000 });
    const out = await caller.page.evaluate(async () => {
      const { call, events } = window.watched;
      return {
        events,
        mute: await window.outcome(call.mute()),
        muted: call.isMuted,
        unmute: await window.outcome(call.unmute()),
        video: await window.outcome(call.startVideo()),
        ask: await window.outcome(window.appel.state.client.getDeviceManager().askDevicePermission({ audio: true, video: true })),
        state: call.state,
      };
    });
    const { videoFailed, microphoneFailed } = out.events;
    assert.deepEqual([videoFailed.code, videoFailed.subCode, videoFailed.name], [410, 41048, 'VIDEO_FAILED_DURING_SETUP']);
    assert.match(videoFailed.rawCause, /NO_CAMERA_FOUND/);
    assert.deepEqual([microphoneFailed.code, microphoneFailed.subCode, microphoneFailed.name], [412, 900641, 'NO_MICROPHONE_FOUND']);
    assert.deepEqual([out.mute.code, out.mute.subCode, out.mute.name], [500, 41015, 'MUTE_FAILED']);
    assert.equal(out.muted, false);
    assert.deepEqual([out.unmute.code, out.unmute.subCode, out.unmute.name], [400, 41016, 'UNMUTE_FAILED']);
    assert.deepEqual([out.video.code, out.video.subCode, out.video.name], [412, 43013, 'NO_CAMERA_FOUND']);
    assert.deepEqual([out.ask.code, out.ask.subCode, out.ask.name], [500, 40614, 'DEVICE_PERMISSION_REQUEST_FAILED']);
    assert.match(out.ask.rawCause, /NotFoundError/);
    assert.equal(out.state, 'Connected', 'the call went on without camera and microphone');
    await caller.page.evaluate(() => window.watched.call.hangUp({}));
    await callee.page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
  });
});

describe('devices refused', () => {
  test('a refused microphone is 900640 (not a camera code), and a camera listed before any permission has no id: 43019', async () => {
    const server = await startServer();
    const browser = await launchWith({ deny: true });
    try {
      const caller = await signIn(browser, server, 'kurt');
      const callee = await signIn(browser, server, 'lena');
      await readOutcomes(caller.page);
      await startCallWatched(caller.page, callee.identity, { video: true });
      await caller.page.waitForFunction(() => window.watched.events.microphoneFailed && window.watched.events.videoFailed, null, { timeout: 10000 });
      const out = await caller.page.evaluate(async () => {
        const { LocalVideoStream } = await import('/app/pkg/appel_web.js');
        const cameras = await window.appel.state.client.getDeviceManager().getCameras();
        const unnamed = new LocalVideoStream(cameras[0]);
        const start = await window.outcome(window.watched.call.startVideo(unnamed));
        await window.watched.call.hangUp({});
        return { events: window.watched.events, ids: cameras.map((c) => c.id), start };
      });
      const { microphoneFailed, videoFailed } = out.events;
      assert.deepEqual([microphoneFailed.code, microphoneFailed.subCode, microphoneFailed.name], [403, 900640, 'MICROPHONE_PERMISSION_NOT_GRANTED']);
      assert.deepEqual([videoFailed.subCode, videoFailed.name], [41048, 'VIDEO_FAILED_DURING_SETUP']);
      assert.match(videoFailed.rawCause, /CAMERA_PERMISSION_NOT_GRANTED/);
      assert.deepEqual(out.ids, [''], 'Chromium lists the camera without its id');
      assert.deepEqual([out.start.code, out.start.subCode, out.start.name], [412, 43019, 'NO_VIDEO_DEVICE_SELECTED']);
    } finally { await browser.close(); await server.stop(); }
  });
});

describe('failures Chromium cannot make here (getUserMedia rejects with its own DOMException)', () => {
  let server;
  let browser;
  before(async () => { server = await startServer(); browser = await launchWith(); });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('a camera held by another program is 43000, refused by the system 43016, an aborted request 43014, an unnamed failure 43002; a busy microphone 900642', async () => {
    const caller = await signIn(browser, server, 'mila');
    const callee = await signIn(browser, server, 'noah');
    await readOutcomes(caller.page);
    await caller.page.evaluate(() => {
      const devices = navigator.mediaDevices;
      const real = devices.getUserMedia.bind(devices);
      window.failWith = null;
      devices.getUserMedia = (constraints) => (window.failWith
        ? Promise.reject(new DOMException(window.failWith[1], window.failWith[0])) : real(constraints));
      window.failWith = ['NotReadableError', 'Could not start audio source'];
    });
    await startCallWatched(caller.page, callee.identity, { video: false });
    await caller.page.waitForFunction(() => window.watched.events.microphoneFailed, null, { timeout: 10000 });
    const out = await caller.page.evaluate(async () => {
      const { call } = window.watched;
      const results = {};
      for (const [name, message] of [
        ['NotReadableError', 'Could not start video source'],
        ['NotAllowedError', 'Permission denied by system'],
        ['AbortError', 'Timeout starting video source'],
        ['InvalidStateError', 'The document is not fully active'],
      ]) {
        window.failWith = [name, message];
        results[name] = await window.outcome(call.startVideo());
      }
      window.failWith = null;
      results.works = await window.outcome(call.startVideo());
      await call.hangUp({});
      return { results, microphone: window.watched.events.microphoneFailed };
    });
    const codes = Object.fromEntries(Object.entries(out.results).map(([k, e]) => [k, e && [e.code, e.subCode, e.name]]));
    assert.deepEqual(codes, {
      NotReadableError: [412, 43000, 'CAMERA_IN_USE'],
      NotAllowedError: [412, 43016, 'CAMERA_DENIED_BY_SYSTEM'],
      AbortError: [412, 43014, 'MEDIA_REQUEST_FAILED'],
      InvalidStateError: [500, 43002, 'START_VIDEO_UNKNOWN_FAILURE'],
      works: null,
    });
    assert.match(out.results.NotReadableError.rawCause, /NotReadableError: Could not start video source/);
    const mic = out.microphone;
    assert.deepEqual([mic.code, mic.subCode, mic.name], [412, 900642, 'MICROPHONE_UNAVAILABLE']);
  });

  test('a camera prompt nobody answers is 43015 after mediaRequestTimeoutMs', async () => {
    const { page } = await signIn(browser, server, 'olaf');
    await readOutcomes(page);
    const out = await page.evaluate(async () => {
      const { CallClient } = await import('/app/pkg/appel_web.js');
      const session = await (await fetch('/dev/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'olaf-2' }) })).json();
      const client = new CallClient({ mediaRequestTimeoutMs: 700 });
      const agent = await client.createCallAgent(session.token, { serverUrl: location.origin });
      // The prompt stays open: the request neither resolves nor rejects.
      navigator.mediaDevices.getUserMedia = () => new Promise(() => {});
      const call = agent.startCall([window.appel.state.me.identity], {});
      const started = Date.now();
      const video = await window.outcome(call.startVideo());
      const waited = Date.now() - started;
      const ask = await window.outcome(client.getDeviceManager().askDevicePermission({ video: true }));
      await call.hangUp({});
      agent.dispose();
      return { video, waited, ask };
    });
    assert.deepEqual([out.video.code, out.video.subCode, out.video.name], [412, 43015, 'MEDIA_REQUEST_TIMED_OUT']);
    assert.ok(out.waited >= 600 && out.waited < 5000, `waited ${out.waited} ms`);
    assert.deepEqual([out.ask.subCode, out.ask.name], [40614, 'DEVICE_PERMISSION_REQUEST_FAILED']);
    assert.match(out.ask.rawCause, /TimeoutError/);
  });
});
