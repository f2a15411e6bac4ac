// Appel's web app: signs in (development mode or a token), calls, answers, and explains how each
// call ended in English or French with the catalogue's advice. Everything goes through the
// browser SDK (crates/appel-web compiled to wasm).
import init, { CallClient, VideoStreamRenderer, explain, setLocale } from '/app/pkg/appel_web.js';
import { endSentence, formatDuration, normalizeEndedBy, t, translatePage, viewpoint } from '/app/endings.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { client: null, agent: null, call: null, incoming: null, me: null, lastReason: null, users: [], token: null, names: new Map(), lastEnd: null, records: [] };
const lang = () => $('locale').value;

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
  if (state.names.has(identity)) return state.names.get(identity);
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
  state.token = token;
  state.me = { identity: agent.identity, name: name || agent.identity };
  $('me').textContent = `${state.me.name} (${agent.identity})`;
  agent.on('incomingCall', onIncoming);
  const connection = (s) => { document.body.dataset.connection = s; $('connection').textContent = t(lang(), `connection_${s}`); };
  connection(agent.connectionState);
  agent.on('connectionStateChanged', connection);
  show('home');
  refreshHome();
}

/**
 * The people one can call, with their presence: `GET /people` with this user's token (any server),
 * else the development directory. Each is a button that calls them.
 */
async function loadPeople() {
  const query = $('people-search').value.trim();
  let people = null;
  try {
    const response = await fetch(`/people?limit=50${query ? `&name=${encodeURIComponent(query)}` : ''}`, { headers: { authorization: `Bearer ${state.token}` } });
    if (response.ok) people = (await response.json()).identities.map((p) => ({ identity: p.id, name: p.displayName || p.id, presence: p.presence }));
  } catch (_) { /* fall back to the development directory */ }
  if (!people) {
    try {
      const users = (await (await fetch('/dev/users')).json()).users;
      const key = query.toLowerCase();
      people = users.filter((u) => !key || (u.name || '').toLowerCase().startsWith(key));
    } catch (_) { people = []; }
  }
  for (const p of people) if (p.name) state.names.set(p.identity, p.name);
  state.users = people;
  return people.filter((p) => p.identity !== state.me.identity);
}

/** Learns the names of people not met yet (a caller who signed up after this page loaded). */
async function learnNames() {
  try {
    const response = await fetch('/people?limit=200', { headers: { authorization: `Bearer ${state.token}` } });
    if (response.ok) {
      for (const p of (await response.json()).identities) if (p.displayName) state.names.set(p.id, p.displayName);
      return;
    }
    for (const u of (await (await fetch('/dev/users')).json()).users) if (u.name) state.names.set(u.identity, u.name);
  } catch (_) { /* names stay ids */ }
}

function renderPeople(people) {
  const locale = lang();
  const items = people.map((u) => {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.textContent = t(locale, 'callName', { name: u.name });
    button.dataset.identity = u.identity;
    button.onclick = () => startCall(u.identity);
    const presence = document.createElement('span');
    presence.className = `presence ${u.presence || 'offline'}`;
    presence.dataset.presence = u.presence || 'offline';
    presence.textContent = t(locale, u.presence || 'offline');
    li.dataset.identity = u.identity;
    li.append(button, presence);
    return li;
  });
  if (items.length === 0) {
    const li = document.createElement('li');
    li.textContent = t(locale, 'nobody');
    items.push(li);
  }
  $('users').replaceChildren(...items);
}

/** One call record as its viewer saw it: when, with whom, how long, and how it ended. */
function describeRecord(record, locale) {
  const me = state.me.identity;
  const legs = record.legs || [];
  const mine = legs.find((l) => l.identity === me);
  const outgoing = record.caller === me;
  const others = legs.filter((l) => l.identity !== me);
  const otherIdentity = outgoing ? (record.targets || [])[0] || (others[0] || {}).identity : record.caller;
  // Connected for this viewer: as caller, someone answered; as callee, this identity answered. A
  // target that never answered has a leg too, marked `answered: false`.
  const answered = (leg) => Boolean(leg) && leg.answered !== false;
  const connected = outgoing ? others.some(answered) : answered(mine);
  const reason = (mine && mine.endReason) || record.endReason;
  const endedBy = normalizeEndedBy((mine && mine.endedBy) || record.endedBy, me);
  const other = others.find(answered) || others[0];
  const leftFirst = other && other.leftAt && mine && mine.leftAt && other.leftAt <= mine.leftAt ? other.identity : null;
  const view = viewpoint({ endedBy, outgoing, connected, otherIdentity, leftFirst });
  const told = view.viewer === 'other' && leftFirst === view.identity && other.endReason ? other.endReason : reason;
  const sentence = told ? endSentence(explain(told.code, told.subCode, locale), view.viewer, nameOf(view.identity), locale) : '';
  const duration = connected && mine && mine.durationMs != null ? formatDuration(mine.durationMs) : '';
  return {
    when: new Date(record.createdAt).toLocaleString(locale === 'fr' ? 'fr-FR' : 'en-GB'),
    direction: t(locale, outgoing ? 'outgoing' : 'incoming'),
    other: nameOf(otherIdentity),
    duration,
    sentence,
    code: reason ? `${reason.code}/${reason.subCode}` : '',
  };
}

function renderRecent() {
  const locale = lang();
  const rows = state.records.slice(0, 10).map((record) => {
    const seen = describeRecord(record, locale);
    const li = document.createElement('li');
    li.dataset.callId = record.id;
    li.dataset.endReason = seen.code;
    for (const [cls, text] of [['when', seen.when], ['direction', seen.direction], ['other', seen.other], ['duration', seen.duration], ['end', seen.sentence]]) {
      if (!text) continue;
      const span = document.createElement('span');
      span.className = cls;
      span.textContent = text;
      li.append(span);
    }
    return li;
  });
  if (rows.length === 0) {
    const li = document.createElement('li');
    li.textContent = t(locale, 'noRecent');
    rows.push(li);
  }
  $('recent').replaceChildren(...rows);
}

async function refreshHome() {
  try { renderPeople(await loadPeople()); } catch (_) { /* no directory reachable */ }
  try {
    const page = await (await fetch(`/dev/calls?identity=${encodeURIComponent(state.me.identity)}`)).json();
    state.records = page.calls || [];
    // Name the people of past calls who are not in the directory page shown.
    renderRecent();
  } catch (_) { /* without dev mode there is no records proxy */ }
  document.body.dataset.homeReady = String(Date.now());
}

/**
 * A group call's grid: one tile per participant (this page's own first), each with its name, its
 * video once frames show, and whether its microphone is off. Tiles keep their renderer; a view that
 * could not be made is tried again at the next change (or the next second).
 */
const grid = { tiles: new Map(), timer: null };

function gridTile(key) {
  let tile = grid.tiles.get(key);
  if (tile) return tile;
  const element = document.createElement('div');
  element.className = 'tile';
  element.dataset.participantId = key;
  element.dataset.video = 'none';
  const name = document.createElement('span');
  name.className = 'name';
  const muted = document.createElement('span');
  muted.className = 'muted-indicator';
  muted.hidden = true;
  const none = document.createElement('span');
  none.className = 'no-video';
  element.append(none, name, muted);
  tile = { element, name, muted, none, renderer: null, view: null, pending: false };
  grid.tiles.set(key, tile);
  $('grid').append(element);
  return tile;
}

function dropView(tile) {
  if (tile.renderer) { try { tile.renderer.dispose(); } catch (_) { /* disposed already */ } }
  if (tile.view) tile.view.remove();
  tile.renderer = null;
  tile.view = null;
  tile.pending = false;
  tile.element.dataset.video = 'none';
}

function renderGrid() {
  const call = state.call;
  const locale = lang();
  if (!call || !call.usesMediaServer) return;
  $('one-to-one').hidden = true;
  $('grid').hidden = false;
  $('call-with').hidden = true;
  $('peer').textContent = t(locale, 'groupCall');
  const own = gridTile('self');
  own.name.textContent = `${t(locale, 'you')} (${nameOf(state.me.identity)})`;
  own.muted.textContent = t(locale, 'muted');
  own.muted.hidden = !call.isMuted;
  own.element.dataset.muted = String(call.isMuted);
  const preview = call.localVideoStream;
  if (preview && !own.view) {
    own.view = document.createElement('video');
    own.view.autoplay = true;
    own.view.muted = true;
    own.view.playsInline = true;
    own.element.prepend(own.view);
  }
  // A new stream object each time: set it only when the track sent changed, or the preview restarts.
  const track = preview ? preview.getVideoTracks()[0].id : '';
  if (own.view && own.track !== track) { own.view.srcObject = preview; own.track = track; }
  own.none.textContent = preview ? '' : t(locale, 'noVideo');
  const present = new Set(['self']);
  for (const p of call.remoteParticipants) {
    if (p.state === 'Disconnected') continue;
    present.add(p.id);
    const tile = gridTile(p.id);
    tile.name.textContent = nameOf(p.identity);
    tile.muted.textContent = t(locale, 'muted');
    tile.muted.hidden = !p.isMuted;
    tile.element.dataset.muted = String(p.isMuted);
    tile.element.dataset.identity = p.identity;
    const [stream] = p.videoStreams;
    // Its video went away (camera off, or ended): the frozen view goes too.
    if (tile.view && !(stream && stream.isAvailable)) dropView(tile);
    tile.none.textContent = tile.view ? '' : t(locale, 'noVideo');
    if (!stream || !stream.isAvailable || tile.view || tile.pending) continue;
    tile.pending = true;
    tile.renderer = tile.renderer || new VideoStreamRenderer(stream);
    const renderer = tile.renderer;
    renderer.createView({ timeoutMs: 15000 }).then(({ target }) => {
      if (tile.renderer !== renderer) return;
      tile.pending = false;
      tile.view = target;
      tile.element.prepend(target);
      tile.none.textContent = '';
      tile.element.dataset.video = 'shown';
    }, () => { if (tile.renderer === renderer) tile.pending = false; });
  }
  for (const [key, tile] of grid.tiles) {
    if (present.has(key)) continue;
    dropView(tile);
    tile.element.remove();
    grid.tiles.delete(key);
  }
}

function clearGrid() {
  for (const tile of grid.tiles.values()) dropView(tile);
  grid.tiles.clear();
  $('grid').replaceChildren();
  $('grid').hidden = true;
  $('one-to-one').hidden = false;
  $('call-with').hidden = false;
  clearInterval(grid.timer);
  grid.timer = null;
}

function bindCall(call) {
  clearGrid();
  state.call = call;
  $('peer').textContent = nameOf(call.remoteIdentity);
  // Someone who signed in after this page loaded its directory: look the name up again.
  if (!state.users.some((u) => u.identity === call.remoteIdentity)) {
    fetch('/dev/users').then((r) => r.json()).then((users) => {
      state.users = users.users;
      if (state.call === call) $('peer').textContent = nameOf(call.remoteIdentity);
    }).catch(() => { /* without dev mode there is no directory */ });
  }
  $('state').textContent = t(lang(), `state_${call.state}`);
  $('call-error').textContent = '';
  const seen = { connectedAt: null, leftFirst: null };
  const remote = $('remote');
  remote.srcObject = call.remoteMediaStream;
  const updateLocal = () => { $('local').srcObject = call.localVideoStream; $('video').classList.toggle('off', !call.isVideoOn); renderGrid(); };
  updateLocal();
  $('call-id').textContent = call.id || '—';
  call.on('idChanged', (id) => { $('call-id').textContent = id; });
  // The media moved (a 1:1 call gained a third participant): views of the old path stop, so
  // every tile makes its view again on the new one.
  call.on('mediaPathChanged', () => { for (const tile of grid.tiles.values()) if (tile.renderer) dropView(tile); renderGrid(); });
  for (const event of ['remoteParticipantsUpdated', 'remoteParticipantLeft', 'remoteVideoChanged', 'remoteMutedChanged', 'mutedChanged']) call.on(event, () => renderGrid());
  // A mute from the application's backend turns the microphone off too: the button follows.
  call.on('mutedChanged', (muted) => { $('mute').textContent = t(lang(), muted ? 'unmute' : 'mute'); });
  grid.timer = setInterval(renderGrid, 1000);
  renderGrid();
  call.on('stateChanged', (s) => {
    $('state').textContent = t(lang(), `state_${s}`);
    document.body.dataset.callState = s;
    if (s === 'Connected' && seen.connectedAt === null) seen.connectedAt = Date.now();
  });
  // The participant whose leaving ends a 1:1 call is the one the end screen names.
  call.on('remoteParticipantLeft', (p) => { if (!seen.leftFirst) seen.leftFirst = { identity: p.identity, reason: p.callEndReason }; });
  call.on('localVideoChanged', updateLocal);
  call.on('remoteStreamChanged', () => { remote.srcObject = call.remoteMediaStream; });
  call.on('videoFailed', (e) => { $('call-error').textContent = `${e.subCode} ${e.message}`; });
  call.on('error', (e) => { $('call-error').textContent = `${e.code}/${e.subCode} ${e.message}`; });
  call.on('ended', (reason) => showEnd(reason, {
    callId: call.id,
    outgoing: call.direction === 'Outgoing',
    otherIdentity: call.remoteIdentity,
    connected: seen.connectedAt !== null,
    durationMs: seen.connectedAt === null ? null : Date.now() - seen.connectedAt,
    leftFirst: seen.leftFirst && seen.leftFirst.identity,
    leftReason: seen.leftFirst && seen.leftFirst.reason,
    endedBy: reason.endedBy || call.endedBy,
  }));
  show('call');
}

function showEnd(reason, context) {
  clearGrid();
  state.lastReason = reason;
  state.lastEnd = context;
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
  const context = state.lastEnd || {};
  const endedBy = normalizeEndedBy(context.endedBy, state.me && state.me.identity);
  const view = viewpoint({ ...context, endedBy });
  // The other party's leaving ended the call: its own reason says why (the one left behind is
  // told 0/0, docs/protocol.md).
  const told = view.viewer === 'other' && context.leftReason && view.identity === context.leftFirst
    ? explain(context.leftReason.code, context.leftReason.subCode, locale) : entry;
  const sentence = endSentence(told, view.viewer, nameOf(view.identity), locale);
  const duration = context.connected && context.durationMs != null ? ` · ${formatDuration(context.durationMs)}` : '';
  $('ended-title').textContent = t(locale, 'callEnded');
  // "Bob hung up · 3 min 12 s": the sentence loses its full stop when the duration follows.
  $('ended-summary').textContent = duration ? sentence.replace(/\.$/, '') + duration : sentence;
  $('ended-call-id').textContent = context.callId || '—';
  document.body.dataset.endViewer = view.viewer;
  document.body.dataset.endedBy = endedBy ? endedBy.kind : '';
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

function startGroupCall() {
  bindCall(state.agent.startCall([], { video: $('with-video').checked, joinable: true }));
}

function join(room) {
  const id = $('join-id').value.trim();
  if (!id) return;
  const options = { video: $('with-video').checked };
  bindCall(room ? state.agent.joinRoom(id, options) : state.agent.join(id, options));
}

function onIncoming(incoming) {
  state.incoming = incoming;
  $('caller').textContent = nameOf(incoming.from);
  if (!state.names.has(incoming.from)) {
    learnNames().then(() => { if (state.incoming === incoming) $('caller').textContent = nameOf(incoming.from); });
  }
  incoming.on('stopped', (reason) => {
    if (state.incoming === incoming) {
      showEnd(reason, { callId: incoming.id, outgoing: false, otherIdentity: incoming.from, connected: false, endedBy: reason.endedBy || incoming.endedBy });
    }
  });
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
  if (!response.ok) { $('devnote').textContent = t(lang(), 'devOff'); return; }
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
$('end-all').onclick = () => state.call && state.call.hangUp({ forEveryone: true }).catch(showError);
$('group-button').onclick = () => startGroupCall();
$('join-form').onsubmit = (event) => { event.preventDefault(); join(false); };
$('join-room-button').onclick = () => join(true);
$('invite-form').onsubmit = (event) => {
  event.preventDefault();
  const identity = $('invite-identity').value.trim();
  if (identity && state.call) state.call.addParticipant(identity).then(() => { $('invite-identity').value = ''; }, showError);
};
$('mute').onclick = async () => {
  const call = state.call;
  try { if (call.isMuted) await call.unmute(); else await call.mute(); $('mute').textContent = t(lang(), call.isMuted ? 'unmute' : 'mute'); } catch (e) { showError(e); }
};
$('video').onclick = () => { const c = state.call; (c.isVideoOn ? c.stopVideo() : c.startVideo()).catch(showError); };
$('hold').onclick = async () => {
  const c = state.call;
  try { if (c.state === 'LocalHold') { await c.resume(); $('hold').textContent = t(lang(), 'hold'); } else { await c.hold(); $('hold').textContent = t(lang(), 'resume'); } } catch (e) { showError(e); }
};
$('share').onclick = () => state.call.startScreenShare().catch(showError);
$('back').onclick = () => { show('home'); refreshHome(); };
$('locale').onchange = () => {
  setLocale(lang());
  translatePage(document, lang());
  renderEnd();
  if (state.call) $('state').textContent = t(lang(), `state_${state.call.state}`);
  if (state.agent) $('connection').textContent = t(lang(), `connection_${state.agent.connectionState}`);
  if (state.call) $('mute').textContent = t(lang(), state.call.isMuted ? 'unmute' : 'mute');
  if (state.call) $('hold').textContent = t(lang(), state.call.state === 'LocalHold' ? 'resume' : 'hold');
  renderGrid();
  if (state.me) { renderPeople(state.users.filter((u) => u.identity !== state.me.identity)); renderRecent(); }
};
let searching = null;
$('people-search').oninput = () => {
  clearTimeout(searching);
  searching = setTimeout(() => loadPeople().then(renderPeople).catch(() => {}), 150);
};
// Presence changes while the home screen shows: look again now and then.
setInterval(() => { if (document.body.dataset.screen === 'home' && state.me) loadPeople().then(renderPeople).catch(() => {}); }, 5000);

await init();
if (params.get('lang') === 'fr') { $('locale').value = 'fr'; setLocale('fr'); }
translatePage(document, lang());
window.appel = { state, explain };
show('signin');
document.body.dataset.ready = 'true';
