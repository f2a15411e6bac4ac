// Every end screen says who ended the call and why, in the words of the person who sees it, in
// English and in French: both sides of a hang-up, a decline, a call nobody answered, a cancelled
// call, a call to someone offline and a removal by the call-control API. Also: recent calls show
// what each person saw, and people are called by name from a list with their presence.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { answer, launch, screenshot, signIn, startServer } from './harness.mjs';

/** The end screen as its viewer reads it, in the language now chosen. */
async function summary(page) {
  await page.waitForSelector('body[data-screen="ended"]', { timeout: 15000 });
  return (await page.textContent('#ended-summary')).trim();
}

/**
 * Checks the end screen of `side` in English then in French (`en` and `fr` are regular
 * expressions), saves a screenshot of each as `docs/images/end-<name>-<lang>.png` (unless `name`
 * is null), and leaves the page in English.
 */
async function reads(side, name, en, fr) {
  const { page } = side;
  assert.match(await summary(page), en);
  // The developer's words stay behind the details toggle, closed by default.
  assert.equal(await page.evaluate(() => document.getElementById('ended-details').open), false);
  assert.ok((await page.textContent('#ended-advice')).length > 0);
  if (name) await screenshot(page, `end-${name}-en.png`);
  await page.selectOption('#locale', 'fr');
  assert.match(await summary(page), fr);
  assert.equal((await page.textContent('#ended-title')).trim(), 'Appel terminé');
  assert.equal((await page.textContent('#back')).trim(), 'Retour');
  assert.equal((await page.textContent('#ended-details summary')).trim(), 'Détails');
  if (name) await screenshot(page, `end-${name}-fr.png`);
  await page.selectOption('#locale', 'en');
  assert.equal((await page.textContent('#ended-title')).trim(), 'Call ended');
}

/** `caller` calls `callee` by clicking the callee's name in the people list. */
async function callByName(caller, calleeName, { video = false } = {}) {
  await caller.page.setChecked('#with-video', video);
  const button = caller.page.locator('#users button', { hasText: calleeName });
  await button.first().waitFor({ timeout: 10000 });
  await button.first().click();
}

async function ringing(callee) {
  await callee.page.waitForSelector('body[data-screen="incoming"]', { timeout: 10000 });
}

describe('end screens in the viewer\'s words', () => {
  let server;
  let browser;
  before(async () => { server = await startServer({ APPEL_TIMERS_RINGING: '3s' }); browser = await launch(); });
  after(async () => { await browser?.close(); await server?.stop(); });

  test('a hang-up: the one who hung up reads "You hung up", the other reads the name, both with the duration', async () => {
    const alice = await signIn(browser, server, 'Alice');
    const bob = await signIn(browser, server, 'Bob');
    // Bob signed in after Alice's list loaded: searching looks again.
    await alice.page.fill('#people-search', 'Bo');
    await callByName(alice, 'Bob');
    await ringing(bob);
    await answer(alice, bob, { video: false });
    await new Promise((r) => setTimeout(r, 1500));
    await bob.page.click('#hangup');
    await reads(alice, 'hangup-other', /^Bob hung up · [1-9]\d* s$/, /^Bob a raccroché · [1-9]\d* s$/);
    await reads(bob, 'hangup-self', /^You hung up · [1-9]\d* s$/, /^Vous avez raccroché · [1-9]\d* s$/);
    assert.equal(await alice.page.evaluate(() => document.body.dataset.endedBy), 'participant');
    assert.equal(await bob.page.evaluate(() => document.body.dataset.endedBy), 'this');
    assert.equal(await alice.page.evaluate(() => window.appel.state.lastEnd.endedBy.identity), bob.identity);

    // Recent calls: when, with whom, how long, and the end as each one saw it (the records hold
    // `createdAt` and `legs`; reading fields they do not have shows nothing).
    for (const [side, other, end] of [[alice, 'Bob', 'Bob hung up.'], [bob, 'Alice', 'You hung up.']]) {
      await side.page.click('#back');
      const row = side.page.locator('#recent li').first();
      await row.locator('.end').waitFor({ timeout: 10000 });
      assert.equal((await row.locator('.other').textContent()).trim(), other);
      assert.equal((await row.locator('.end').textContent()).trim(), end);
      assert.match(await row.locator('.duration').textContent(), /^[1-9]\d* s$/);
      const when = (await row.locator('.when').textContent()).trim();
      assert.ok(when.length > 0 && !when.includes('Invalid'), `time shown: ${when}`);
      assert.equal(await row.getAttribute('data-end-reason'), '0/0');
    }
    await bob.page.selectOption('#locale', 'fr');
    assert.equal((await bob.page.locator('#recent li .end').first().textContent()).trim(), 'Vous avez raccroché.');
    assert.equal((await bob.page.textContent('#home h2')).trim(), 'Appeler quelqu’un');
    await screenshot(bob.page, 'recent-calls-fr.png');
    await bob.page.selectOption('#locale', 'en');
    await screenshot(alice.page, 'recent-calls.png');
  });

  test('a decline: the caller reads that the callee declined, the callee reads "You declined the call"', async () => {
    const chloe = await signIn(browser, server, 'Chloe');
    const dan = await signIn(browser, server, 'Dan');
    await chloe.page.fill('#people-search', 'Da');
    await callByName(chloe, 'Dan');
    await ringing(dan);
    await dan.page.click('#reject');
    await reads(chloe, 'declined-caller', /^Dan declined the call\.$/, /^Dan a refusé l'appel\.$/);
    await reads(dan, 'declined-callee', /^You declined the call\.$/, /^Vous avez refusé l'appel\.$/);
    assert.equal(await chloe.page.textContent('#ended-name'), 'CALL_DECLINED');
  });

  test('nobody answers: the caller reads the name, the callee reads a missed call', async () => {
    const emma = await signIn(browser, server, 'Emma');
    const felix = await signIn(browser, server, 'Felix');
    await emma.page.fill('#people-search', 'Fel');
    await callByName(emma, 'Felix');
    await ringing(felix);
    await reads(emma, 'no-answer-caller', /^Felix didn't answer\.$/, /^Felix n'a pas répondu\.$/);
    await reads(felix, 'no-answer-callee', /^You missed a call from Emma\.$/, /^Vous avez manqué un appel de Emma\.$/);
    assert.equal(await emma.page.evaluate(() => document.body.dataset.endReason), '487/10004');
  });

  test('a cancelled call: the caller reads that they cancelled, the callee reads who hung up before the answer', async () => {
    const gabe = await signIn(browser, server, 'Gabe');
    const hana = await signIn(browser, server, 'Hana');
    await gabe.page.fill('#people-search', 'Ha');
    await callByName(gabe, 'Hana');
    await ringing(hana);
    await gabe.page.click('#hangup');
    await reads(gabe, 'cancelled-caller', /^You cancelled the call\.$/, /^Vous avez annulé l'appel\.$/);
    await reads(hana, 'cancelled-callee', /^Gabe hung up before you answered\.$/, /^Gabe a raccroché avant que vous répondiez\.$/);
    assert.equal(await hana.page.evaluate(() => document.body.dataset.endReason), '487/0');
  });

  test('someone offline: the list shows them offline, the caller reads it, and they find the call on their return', async () => {
    const iris = await signIn(browser, server, 'Iris');
    const jack = await signIn(browser, server, 'Jack');
    const presence = () => iris.page.evaluate((id) => {
      const item = document.querySelector(`#users li[data-identity="${id}"] .presence`);
      return item && item.dataset.presence;
    }, jack.identity);
    await iris.page.fill('#people-search', 'Ja');
    await iris.page.waitForFunction((id) => document.querySelector(`#users li[data-identity="${id}"]`), jack.identity);
    assert.equal(await presence(), 'online');
    await screenshot(iris.page, 'people.png');
    await jack.page.context().close();
    // The list looks again every few seconds; searching again looks at once.
    for (let i = 0; i < 50 && (await presence()) !== 'offline'; i += 1) {
      await iris.page.fill('#people-search', i % 2 ? 'Ja' : 'Jac');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await presence(), 'offline');
    assert.equal((await iris.page.textContent(`#users li[data-identity="${jack.identity}"] .presence`)).trim(), 'offline');
    await callByName(iris, 'Jack');
    await reads(iris, 'offline-caller', /^Jack is offline\.$/, /^Jack est hors ligne\.$/);
    assert.equal(await iris.page.evaluate(() => document.body.dataset.endReason), '480/10076');
    const back = await signIn(browser, server, 'Jack');
    assert.equal(back.identity, jack.identity);
    const row = back.page.locator('#recent li .end').first();
    await row.waitFor({ timeout: 10000 });
    assert.equal((await row.textContent()).trim(), 'Iris called while you were offline.');
    await back.page.selectOption('#locale', 'fr');
    assert.equal((await back.page.locator('#recent li .end').first().textContent()).trim(), 'Iris a appelé pendant que vous étiez hors ligne.');
    await screenshot(back.page, 'end-offline-callee-fr.png');
    await back.page.selectOption('#locale', 'en');
    await screenshot(back.page, 'end-offline-callee-en.png');
  });

  test('a caller who signed up after the callee\'s page loaded is named on the incoming and end screens, as written', async () => {
    const mona = await signIn(browser, server, 'Mona');
    // A name with the characters of a replacement pattern is shown as written, never expanded.
    const zoe = await signIn(browser, server, "Zoé $&$'");
    await zoe.page.fill('#target', mona.identity);
    await zoe.page.setChecked('#with-video', false);
    await zoe.page.click('#call-button');
    await ringing(mona);
    await mona.page.waitForFunction(() => document.getElementById('caller').textContent === "Zoé $&$'", null, { timeout: 5000 });
    await zoe.page.click('#hangup');
    await reads(mona, null, /^Zoé \$&\$' hung up before you answered\.$/, /^Zoé \$&\$' a raccroché avant que vous répondiez\.$/);
  });

  test('removed by the call-control API: the removed one and the other one each read their own words', async () => {
    const kate = await signIn(browser, server, 'Kate');
    const liam = await signIn(browser, server, 'Liam');
    await kate.page.fill('#people-search', 'Li');
    await callByName(kate, 'Liam');
    await ringing(liam);
    await answer(kate, liam, { video: false });
    // In a call, every label follows the language too.
    await kate.page.selectOption('#locale', 'fr');
    assert.equal((await kate.page.textContent('#state')).trim(), 'en communication');
    assert.equal((await kate.page.textContent('#hangup')).trim(), 'Raccrocher');
    assert.equal((await kate.page.textContent('#mute')).trim(), 'Couper le micro');
    await kate.page.selectOption('#locale', 'en');
    assert.equal((await kate.page.textContent('#state')).trim(), 'connected');
    const callId = await kate.page.evaluate(() => window.appel.state.call.id);
    const auth = { authorization: 'Bearer e2e-key' };
    const snapshot = await (await fetch(`${server.url}/call-control/calls/${callId}`, { headers: auth })).json();
    const liamParticipant = snapshot.participants.find((p) => p.identity === liam.identity).id;
    await new Promise((r) => setTimeout(r, 1200));
    const removed = await fetch(`${server.url}/call-control/calls/${callId}/participants/${liamParticipant}`, { method: 'DELETE', headers: auth });
    assert.ok(removed.ok, `removal answered ${removed.status}`);
    await reads(liam, 'removed-self', /^You were removed from the call · [1-9]\d* s$/, /^Vous avez été retiré de l'appel · [1-9]\d* s$/);
    await reads(kate, 'removed-other', /^Liam was removed from the call · [1-9]\d* s$/, /^Liam a été retiré de l'appel · [1-9]\d* s$/);
    assert.equal(await liam.page.evaluate(() => document.body.dataset.endedBy), 'callControl');
    // The call id and the developer's advice are behind the details toggle.
    await liam.page.click('#ended-details summary');
    assert.equal((await liam.page.textContent('#ended-call-id')).trim(), callId);
    assert.equal((await liam.page.textContent('#ended-code')).trim(), '0/5300');
    await screenshot(liam.page, 'end-removed-details.png');
  });
});
