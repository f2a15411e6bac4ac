// Browser pages call each other through a real server: ringing outcomes and SDK errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answer, call, endReason, launch, remoteVideoProgress, screenshot, signIn, startServer } from './harness.mjs';

describe('calls between two pages', () => {
  let server;
  let browser;
  before(async () => { server = await startServer({ APPEL_TIMERS_RINGING: '3s' }); browser = await launch(); });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('starting screen share before the call is connected fails with 41071', async () => {
    const carol = await signIn(browser, server, 'carol');
    const dave = await signIn(browser, server, 'dave');
    await call(carol, dave, { video: false });
    const error = await carol.page.evaluate(() => window.appel.state.call.startScreenShare().then(() => null, (e) => ({ code: e.code, subCode: e.subCode, name: e.name, advice: e.advice })));
    assert.equal(error.subCode, 41071);
    assert.equal(error.code, 412);
    assert.equal(error.name, 'SCREEN_SHARE_CALL_NOT_CONNECTED');
    assert.ok(error.advice.length > 0);
    await carol.page.click('#hangup');
    assert.equal(await endReason(dave.page), '487/0');
  });

  test("two pages call each other and each sees the other's video frames", async () => {
    const olga = await signIn(browser, server, 'olga');
    const paul = await signIn(browser, server, 'paul');
    await call(olga, paul, { video: true });
    await answer(olga, paul, { video: true });
    for (const side of [olga, paul]) {
      const video = await remoteVideoProgress(side.page);
      assert.ok(video.width > 0 && video.height > 0, `remote video size ${JSON.stringify(video)}`);
      assert.ok(video.newFrames > 0, `no new decoded frames: ${JSON.stringify(video)}`);
      assert.ok(video.advanced > 0.3, `remote video clock did not advance: ${JSON.stringify(video)}`);
      // The stream the page shows is the one the SDK fills, not a copy taken before the tracks came.
      assert.equal(await side.page.evaluate(() => window.appel.state.call.remoteMediaStream === document.getElementById('remote').srcObject), true);
    }
    await screenshot(olga.page, 'in-call.png');
    await olga.page.click('#hangup');
    assert.equal(await endReason(olga.page), '0/0');
    await paul.page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
  });

  test('the 11th remote view fails with 43220', async () => {
    const rita = await signIn(browser, server, 'rita');
    const sam = await signIn(browser, server, 'sam');
    await call(rita, sam, { video: true });
    await answer(rita, sam, { video: true });
    await remoteVideoProgress(rita.page, 0);
    const outcome = await rita.page.evaluate(async () => {
      const call = window.appel.state.call;
      const renderer = call.createRemoteRenderer();
      const views = [];
      for (let i = 0; i < 10; i += 1) views.push(await renderer.createView());
      const eleventh = await renderer.createView().then(() => null, (e) => ({ code: e.code, subCode: e.subCode, name: e.name, advice: e.advice }));
      const other = await call.createRemoteRenderer().createView().then(() => null, (e) => e.subCode);
      renderer.dispose();
      const afterDispose = await call.createRemoteRenderer().createView().then((v) => v.target.tagName, (e) => e.subCode);
      return { created: views.filter((v) => v.target instanceof HTMLVideoElement && v.target.srcObject === call.remoteMediaStream).length, eleventh, other, afterDispose };
    });
    assert.equal(outcome.created, 10);
    assert.equal(outcome.eleventh.subCode, 43220);
    assert.equal(outcome.eleventh.code, 400);
    assert.equal(outcome.eleventh.name, 'MAX_REMOTE_VIEWS_REACHED');
    assert.ok(outcome.eleventh.advice.length > 0);
    assert.equal(outcome.other, 43220, 'the limit is per client, across renderers');
    assert.equal(outcome.afterDispose, 'VIDEO', 'disposing gives the views back');
    await rita.page.click('#hangup');
    assert.equal(await endReason(rita.page), '0/0');
  });

  test('a rejected call shows 603/0 to the caller', async () => {
    const erin = await signIn(browser, server, 'erin');
    const frank = await signIn(browser, server, 'frank');
    await call(erin, frank, { video: false });
    await frank.page.click('#reject');
    assert.equal(await endReason(erin.page), '603/0');
    assert.equal(await endReason(frank.page), '0/0');
    assert.equal(await erin.page.textContent('#ended-name'), 'CALL_DECLINED');
    await erin.page.selectOption('#locale', 'fr');
    assert.match(await erin.page.textContent('#ended-title'), /Appel terminé/);
    await screenshot(erin.page, 'ended-fr.png');
  });

  test('a call cancelled by the caller shows 487/0 to the callee', async () => {
    const gina = await signIn(browser, server, 'gina');
    const hugo = await signIn(browser, server, 'hugo');
    await call(gina, hugo, { video: false });
    await gina.page.click('#hangup');
    assert.equal(await endReason(hugo.page), '487/0');
    assert.equal(await endReason(gina.page), '0/0');
  });

  test('an unanswered call ends with 487/10004 on both sides after the ringing timeout', async () => {
    const ines = await signIn(browser, server, 'ines');
    const jules = await signIn(browser, server, 'jules');
    await call(ines, jules, { video: false });
    await screenshot(jules.page, 'incoming.png');
    assert.equal(await endReason(ines.page), '487/10004');
    assert.equal(await endReason(jules.page), '487/10004');
    await screenshot(ines.page, 'ended.png');
  });
});

describe('device failures', () => {
  test('permission denied gives 43001 to startVideo and 40613 to askDevicePermission', async () => {
    const server = await startServer();
    const browser = await launch({ deny: true });
    try {
      const { page } = await signIn(browser, server, 'mona');
      const errors = await page.evaluate(async () => {
        const { CallClient } = await import('/app/pkg/appel_web.js');
        const client = new CallClient({});
        const ask = await client.getDeviceManager().askDevicePermission({ audio: false, video: true }).then(() => null, (e) => e);
        const call = window.appel.state.agent.startCall(['nobody'], { video: false });
        const start = await call.startVideo().then(() => null, (e) => e);
        await call.hangUp({});
        return [ask && ask.subCode, start && start.subCode, start && start.name];
      });
      assert.deepEqual(errors, [40613, 43001, 'CAMERA_PERMISSION_NOT_GRANTED']);
    } finally { await browser.close(); await server.stop(); }
  });

  test('no camera gives 43013', async () => {
    const server = await startServer();
    const browser = await launch({ fakeDevices: false });
    try {
      const { page } = await signIn(browser, server, 'nina');
      const error = await page.evaluate(async () => {
        const call = window.appel.state.agent.startCall(['nobody'], { video: false });
        const e = await call.startVideo().then(() => null, (x) => x);
        await call.hangUp({});
        return e && { code: e.code, subCode: e.subCode, name: e.name };
      });
      assert.deepEqual(error, { code: 412, subCode: 43013, name: 'NO_CAMERA_FOUND' });
    } finally { await browser.close(); await server.stop(); }
  });
});
