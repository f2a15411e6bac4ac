// Appel's web app: signs in (development mode or a token), calls, answers, and explains how each
// call ended in English or French with the catalogue's advice. Everything goes through the
// browser SDK (crates/appel-web compiled to wasm).
import init, { CallClient, explain, setLocale } from '/app/pkg/appel_web.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { client: null, agent: null, call: null, incoming: null, me: null, lastReason: null, users: [] };

function show(section) {
  for (const id of ['signin', 'home', 'incoming', 'call', 'ended']) $(id).hidden = id !== section;
  document.body.dataset.screen = section;
}

function agentOptions() {
  const options = { serverUrl: location.origin };
  // Tests keep ICE on loopback; a relay-only policy without relays shows 410/3112.
  if (params.get('loopbackOnly')) options.allowedCandidateAddresses = ['127.0.0.1'];
  if (params.get('relayOnly')) options.iceTransportPolicy = 'relay';
  // How long calls outlive a dropped signaling connection (default 120 s).
  if (params.get('graceMs')) options.reconnect = { graceMs: Number(params.get('graceMs')) };
  // The server's relay (TURN), fetched before each call's media (docs/relay.md).
  if (params.get('relay')) options.useRelay = true;
  if (params.get('mediaRecoveryMs')) options.mediaRecoveryMs = Number(params.get('mediaRecoveryMs'));
  return options;
}

function nameOf(identity) {
  const user = state.users.find((u) => u.identity === identity);
  return user ? user.name : identity;
}

// A token of an identity provider names its issuer (`iss`); Appel's own tokens do not
// (docs/identities.md). Unreadable tokens go to the server as Appel tokens, which decides.
function issuerOf(token) {
  try { return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).iss; } catch (_) { return undefined; }
}

async function signInWith(token, name) {
  state.client = new CallClient({});
  const agent = issuerOf(token)
    ? await state.client.createFederatedCallAgent(token, agentOptions())
    : await state.client.createCallAgent(token, agentOptions());
  state.agent = agent;
  state.me = { identity: agent.identity, name: name || agent.identity };
  $('me').textContent = `${state.me.name} (${agent.identity})`;
  agent.on('incomingCall', onIncoming);
  const connection = (s) => { document.body.dataset.connection = s; $('connection').textContent = s === 'Connected' ? '' : s; };
  connection(agent.connectionState);
  agent.on('connectionStateChanged', connection);
  show('home');
  refreshHome();
}

async function refreshHome() {
  try {
    const users = await (await fetch('/dev/users')).json();
    state.users = users.users;
    $('users').replaceChildren(...users.users.filter((u) => u.identity !== state.me.identity).map((u) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.textContent = `Call ${u.name}`;
      button.dataset.identity = u.identity;
      button.onclick = () => startCall(u.identity);
      li.append(button);
      return li;
    }));
    const page = await (await fetch(`/dev/calls?identity=${encodeURIComponent(state.me.identity)}`)).json();
    $('recent').replaceChildren(...(page.calls || page.items || []).slice(0, 10).map((record) => {
      const li = document.createElement('li');
      const leg = (record.participants || []).find((p) => p.identity === state.me.identity) || {};
      const reason = leg.endReason || leg.callEndReason || record.endReason || {};
      const text = reason.code !== undefined ? explain(reason.code, reason.subCode, $('locale').value).name : '';
      li.textContent = `${record.startedAt || record.startTime || ''} — ${(record.participants || []).map((p) => nameOf(p.identity)).join(', ')} ${text}`;
      return li;
    }));
  } catch (_) { /* without dev mode there is no directory nor records proxy */ }
}

function bindCall(call) {
  state.call = call;
  $('peer').textContent = nameOf(call.remoteIdentity);
  // Someone who signed in after this page loaded its directory: look the name up again.
  if (!state.users.some((u) => u.identity === call.remoteIdentity)) {
    fetch('/dev/users').then((r) => r.json()).then((users) => {
      state.users = users.users;
      if (state.call === call) $('peer').textContent = nameOf(call.remoteIdentity);
    }).catch(() => { /* without dev mode there is no directory */ });
  }
  $('state').textContent = call.state;
  $('call-error').textContent = '';
  const remote = $('remote');
  remote.srcObject = call.remoteMediaStream;
  const updateLocal = () => { $('local').srcObject = call.localVideoStream; $('video').classList.toggle('off', !call.isVideoOn); };
  updateLocal();
  call.on('stateChanged', (s) => { $('state').textContent = s; document.body.dataset.callState = s; });
  call.on('localVideoChanged', updateLocal);
  call.on('remoteStreamChanged', () => { remote.srcObject = call.remoteMediaStream; });
  call.on('videoFailed', (e) => { $('call-error').textContent = `${e.subCode} ${e.message}`; });
  call.on('error', (e) => { $('call-error').textContent = `${e.code}/${e.subCode} ${e.message}`; });
  call.on('ended', (reason) => showEnd(reason));
  show('call');
}

function showEnd(reason) {
  state.lastReason = reason;
  state.call = null;
  state.incoming = null;
  renderEnd();
  show('ended');
}

function renderEnd() {
  const reason = state.lastReason;
  if (!reason) return;
  const locale = $('locale').value;
  const entry = explain(reason.code, reason.subCode, locale);
  $('ended-title').textContent = locale === 'fr' ? 'Appel terminé' : 'Call ended';
  $('ended-code').textContent = `${reason.code}/${reason.subCode}`;
  $('ended-name').textContent = entry.name;
  $('ended-message').textContent = entry.message;
  $('ended-advice').textContent = entry.advice;
  document.body.dataset.endReason = `${reason.code}/${reason.subCode}`;
}

function showError(e) {
  $('call-error').textContent = `${e.code}/${e.subCode} ${e.name}: ${e.message} ${e.advice}`;
  document.body.dataset.lastError = `${e.code}/${e.subCode}`;
}

function startCall(identity) {
  const call = state.agent.startCall([identity], { video: $('with-video').checked });
  bindCall(call);
}

function onIncoming(incoming) {
  state.incoming = incoming;
  $('caller').textContent = nameOf(incoming.from);
  incoming.on('stopped', (reason) => { if (state.incoming === incoming) showEnd(reason); });
  show('incoming');
}

async function accept(video) {
  try { bindCall(await state.incoming.accept({ video })); } catch (e) { showError(e); }
}

$('signin-form').onsubmit = async (event) => {
  event.preventDefault();
  const name = $('name').value.trim();
  if (!name) return;
  const response = await fetch('/dev/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  if (!response.ok) { $('devnote').textContent = 'Development mode is off: sign in with a token issued by your backend.'; return; }
  const session = await response.json();
  try { await signInWith(session.token, session.name); } catch (e) { $('devnote').textContent = `${e.code}/${e.subCode} ${e.message}`; }
};
$('token-form').onsubmit = async (event) => {
  event.preventDefault();
  try { await signInWith($('token').value.trim()); } catch (e) { $('devnote').textContent = `${e.code}/${e.subCode} ${e.message}`; }
};
$('call-form').onsubmit = (event) => { event.preventDefault(); const t = $('target').value.trim(); if (t) startCall(t); };
$('accept').onclick = () => accept(false);
$('accept-video').onclick = () => accept(true);
$('reject').onclick = () => state.incoming.reject().catch(showError);
$('hangup').onclick = () => state.call && state.call.hangUp({});
$('mute').onclick = async () => {
  const call = state.call;
  try { if (call.isMuted) await call.unmute(); else await call.mute(); $('mute').textContent = call.isMuted ? 'Unmute' : 'Mute'; } catch (e) { showError(e); }
};
$('video').onclick = () => { const c = state.call; (c.isVideoOn ? c.stopVideo() : c.startVideo()).catch(showError); };
$('hold').onclick = async () => {
  const c = state.call;
  try { if (c.state === 'LocalHold') { await c.resume(); $('hold').textContent = 'Hold'; } else { await c.hold(); $('hold').textContent = 'Resume'; } } catch (e) { showError(e); }
};
$('share').onclick = () => state.call.startScreenShare().catch(showError);
$('back').onclick = () => { show('home'); refreshHome(); };
$('locale').onchange = () => { setLocale($('locale').value); document.documentElement.lang = $('locale').value; renderEnd(); };

await init();
window.appel = { state, explain };
show('signin');
document.body.dataset.ready = 'true';
