// Federated identities in the web app (docs/identities.md): a small OpenID Connect provider on
// loopback (discovery document, JWK set, RS256 tokens signed here) that the server trusts through
// its APPEL_FEDERATION_* settings; a page signs in by pasting one of its tokens, and calls and is
// called by a page of a native user.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { answer, call, endReason, launch, signIn, startServer } from './harness.mjs';

const AUDIENCE = 'appel-e2e';

/** The provider: serves its discovery document and keys, and signs tokens for any subject. */
async function startIssuer() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'e2e-1', alg: 'RS256', use: 'sig' };
  let issuer = '';
  let fetches = 0;
  const server = http.createServer((req, res) => {
    fetches += 1;
    const body = req.url === '/.well-known/openid-configuration'
      ? { issuer, jwks_uri: `${issuer}/keys` }
      : req.url === '/keys' ? { keys: [jwk] } : null;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? {}));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return {
    url: issuer,
    fetches: () => fetches,
    token(sub) {
      const now = Math.floor(Date.now() / 1000);
      const signed = `${b64({ alg: 'RS256', kid: 'e2e-1', typ: 'JWT' })}.${b64({ iss: issuer, sub, aud: AUDIENCE, iat: now, exp: now + 600 })}`;
      return `${signed}.${sign('RSA-SHA256', Buffer.from(signed), privateKey).toString('base64url')}`;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A new page signed in with `token` through the web app's token form. */
async function signInWithToken(browser, server, token) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 760 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/?loopbackOnly=1`);
  await page.waitForSelector('body[data-ready="true"]');
  await page.click('#signin summary');
  await page.fill('#token', token);
  await page.click('#token-form button');
  await page.waitForSelector('body[data-screen="home"]');
  const identity = await page.evaluate(() => window.appel.state.me.identity);
  return { page, identity };
}

const federatedId = (issuer, subject) => `federated:${encodeURIComponent(issuer).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}:${encodeURIComponent(subject)}`;

describe('federated identities in the web app', () => {
  let idp;
  let server;
  let closed;
  let browser;
  before(async () => {
    idp = await startIssuer();
    const trust = { APPEL_FEDERATION_ISSUERS: idp.url, APPEL_FEDERATION_AUDIENCE: AUDIENCE };
    server = await startServer({ ...trust, APPEL_TIMERS_RINGING: '5s' });
    closed = await startServer({ ...trust, APPEL_FEDERATION_CALLING: 'false' });
    browser = await launch();
  });
  after(async () => { await browser?.close(); await server?.stop(); await closed?.stop(); await idp?.close(); });

  test('a pasted provider token signs a federated user in, who calls and is called by a native user', async () => {
    const fed = await signInWithToken(browser, server, idp.token('rosa'));
    assert.equal(fed.identity, federatedId(idp.url, 'rosa'));
    assert.equal(await fed.page.evaluate(() => window.appel.state.agent.subject), 'rosa');
    const sam = await signIn(browser, server, 'sam');
    await call(sam, fed, { video: false });
    await answer(sam, fed, { video: false });
    await fed.page.click('#hangup');
    assert.equal(await endReason(fed.page), '0/0');
    assert.equal(await endReason(sam.page), '0/0');
    await fed.page.click('#back');
    await sam.page.click('#back');
    await call(fed, sam, { video: false });
    await sam.page.click('#reject');
    assert.equal(await endReason(fed.page), '603/0');
  });

  test('a second federated agent for the same user in one client is 40230', async () => {
    const fed = await signInWithToken(browser, server, idp.token('tess'));
    const error = await fed.page.evaluate(async (token) => window.appel.state.client
      .createFederatedCallAgent(token, { serverUrl: location.origin })
      .then(() => null, (e) => ({ code: e.code, subCode: e.subCode, name: e.name })), idp.token('tess'));
    assert.deepEqual(error, { code: 409, subCode: 40230, name: 'FEDERATED_CALL_AGENT_ALREADY_EXISTS' });
  });

  test('a forged token is refused with 401/10009 and the page stays on the sign-in screen', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    const [header, payload] = idp.token('ursula').split('.');
    await page.click('#signin summary');
    await page.fill('#token', `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`);
    await page.click('#token-form button');
    await page.waitForFunction(() => document.getElementById('devnote').textContent.startsWith('401/10009'));
    assert.equal(await page.evaluate(() => document.body.dataset.screen), 'signin');
  });

  test('with calling off for the provider, a federated call ends with 412/41056', async () => {
    const fed = await signInWithToken(browser, closed, idp.token('vera'));
    const wes = await signIn(browser, closed, 'wes');
    await fed.page.setChecked('#with-video', false);
    await fed.page.fill('#target', wes.identity);
    await fed.page.click('#call-button');
    assert.equal(await endReason(fed.page), '412/41056');
  });
});
