// The diagnostics page: the server's call records read with its access key (kept in this tab's
// session storage only). Every text that comes from the server is put in the page as text, never
// as markup, so a crafted identity or cause cannot run in the operator's page.
const KEY = 'appel.diagnostics.key';
const CATEGORIES = ['Success', 'ExpectedError', 'UnexpectedClientError', 'UnexpectedServerError'];
const COLOURS = { Success: '#2a9d55', ExpectedError: '#e0a100', UnexpectedClientError: '#d62839', UnexpectedServerError: '#7a0060' };
const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem(KEY), catalogue: null, lang: 'en', openCall: null };
window.appelDiagnostics = state;

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${state.key}` } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(`${body.code ?? response.status}/${body.subCode ?? 0} ${body.title ?? response.statusText}${body.detail ? ` — ${body.detail}` : ''}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

async function catalogue() {
  if (!state.catalogue) {
    const entries = await (await fetch('codes.json')).json().catch(() => []);
    state.catalogue = new Map(entries.map((e) => [`${e.code}/${e.subCode}`, e]));
  }
  return state.catalogue;
}

const reasonText = (r) => (r ? `${r.code}/${r.subCode}` : 'live');
const timeText = (t) => (t ? t.replace('T', ' ').slice(0, 19) : '-');

function showSignedIn(signedIn) {
  $('signin').hidden = signedIn;
  $('console').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  document.body.dataset.screen = signedIn ? 'diagnostics' : 'signin';
}

async function signIn(key) {
  state.key = key;
  try {
    await api('/calls?limit=1');
  } catch (error) {
    state.key = null;
    sessionStorage.removeItem(KEY);
    $('signin-error').textContent = error.status === 401 ? 'That is not this server\'s access key.' : error.message;
    showSignedIn(false);
    return;
  }
  sessionStorage.setItem(KEY, key);
  $('signin-error').textContent = '';
  showSignedIn(true);
  await Promise.all([summary(), search()]);
}

function hoursAgo(hours) {
  return new Date(Date.now() - hours * 3600 * 1000).toISOString();
}

async function summary() {
  const hours = Number($('window').value);
  const buckets = hours <= 1 ? 12 : 24;
  const data = await api(`/calls/summary?since=${encodeURIComponent(hoursAgo(hours))}&buckets=${buckets}`);
  $('summary-total').textContent = `${data.calls} calls ended, ${data.legs} legs, ${timeText(data.since)} → ${timeText(data.until)} UTC`;
  drawChart(data);
  const body = $('reasons').tBodies[0];
  body.replaceChildren();
  for (const r of data.reasons) {
    const row = el('tr');
    row.append(el('td', `${r.code}/${r.subCode}`, { class: 'reason' }), el('td', r.name),
      el('td', r.resultCategory, { class: `cat-${r.resultCategory}` }), el('td', r.count),
      el('td', `${(r.share * 100).toFixed(1)}%`));
    body.append(row);
  }
  document.body.dataset.summaryLegs = String(data.legs);
}

// Stacked bars, one per slice of the window, one colour per category.
function drawChart(data) {
  const svg = $('chart');
  svg.replaceChildren();
  const ns = 'http://www.w3.org/2000/svg';
  const width = svg.clientWidth || 800;
  const height = 180;
  const n = data.buckets.length;
  const totals = data.buckets.map((b) => Object.values(b.categories).reduce((a, c) => a + c, 0));
  const max = Math.max(1, ...totals);
  const barWidth = width / n;
  data.buckets.forEach((bucket, i) => {
    let y = height - 16;
    for (const category of CATEGORIES) {
      const count = bucket.categories[category] || 0;
      if (!count) continue;
      const h = ((height - 24) * count) / max;
      y -= h;
      const rect = document.createElementNS(ns, 'rect');
      rect.setAttribute('x', String(i * barWidth + 1));
      rect.setAttribute('y', String(y));
      rect.setAttribute('width', String(Math.max(1, barWidth - 2)));
      rect.setAttribute('height', String(h));
      rect.setAttribute('fill', COLOURS[category]);
      rect.setAttribute('data-category', category);
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${timeText(bucket.start)}: ${count} ${category}`;
      rect.append(title);
      svg.append(rect);
    }
  });
  const axis = document.createElementNS(ns, 'text');
  axis.setAttribute('x', '0');
  axis.setAttribute('y', String(height - 2));
  axis.setAttribute('font-size', '11');
  axis.textContent = `${timeText(data.since)} … ${timeText(data.until)} (max ${max} legs per slice)`;
  svg.append(axis);
  $('legend').replaceChildren(...CATEGORIES.map((c) => {
    const span = el('span', c);
    const swatch = el('i');
    swatch.style.background = COLOURS[c];
    span.prepend(swatch);
    return span;
  }));
}

function searchPath() {
  const params = new URLSearchParams();
  const identity = $('identity').value.trim();
  if (identity) params.set('identity', identity);
  const code = $('code').value.trim();
  if (code) {
    const [c, s] = code.split('/');
    params.set('code', c);
    if (s !== undefined) params.set('subCode', s);
  }
  if ($('category').value) params.set('category', $('category').value);
  if ($('since').value) params.set('since', hoursAgo(Number($('since').value)));
  params.set('limit', '50');
  return `/calls?${params}`;
}

async function search() {
  $('search-error').textContent = '';
  let page;
  try {
    page = await api(searchPath());
  } catch (error) {
    $('search-error').textContent = error.message;
    return;
  }
  const body = $('calls').tBodies[0];
  body.replaceChildren();
  for (const call of page.calls) {
    const row = el('tr', null, { class: 'call', 'data-call': call.id });
    const legs = el('td');
    for (const leg of call.legs) {
      const item = el('div', `${leg.identity} ${reasonText(leg.endReason)}${leg.answered === false ? ' (never answered)' : ''}`);
      if (leg.endReason) item.className = `cat-${leg.endReason.resultCategory}`;
      legs.append(item);
    }
    row.append(el('td', call.id.slice(0, 12) + '…', { class: 'reason', title: call.id }), el('td', timeText(call.createdAt)),
      el('td', call.caller), el('td', reasonText(call.endReason), { class: 'reason' }), legs);
    row.addEventListener('click', () => show(call.id));
    body.append(row);
  }
  document.body.dataset.results = String(page.calls.length);
}

async function show(id) {
  const [call, codes] = await Promise.all([api(`/calls/${encodeURIComponent(id)}`), catalogue()]);
  state.openCall = id;
  const lang = state.lang;
  $('call').hidden = false;
  $('call-id').textContent = call.id;
  $('call-summary').textContent = `from ${call.caller} to ${call.targets.join(', ')}, started ${timeText(call.createdAt)} UTC, ended ${reasonText(call.endReason)}${call.endReason ? ` (${call.endReason.name})` : ''}`;
  const legs = $('legs');
  legs.replaceChildren();
  for (const leg of call.legs) {
    const box = el('div', null, { class: 'leg', 'data-identity': leg.identity });
    box.append(el('strong', leg.identity), el('span', ` ${leg.endpointId ? `on ${leg.endpointId}` : ''}${leg.answered === false ? ' — never answered' : ''}`, { class: leg.answered === false ? 'unanswered' : '' }));
    if (leg.endReason) {
      const r = leg.endReason;
      const entry = codes.get(`${r.code}/${r.subCode}`);
      box.append(el('div', `${r.code}/${r.subCode} ${r.name} (${r.resultCategory})`, { class: `reason cat-${r.resultCategory}` }));
      if (entry) {
        box.append(el('div', entry.message[lang] ?? entry.message.en));
        box.append(el('div', entry.advice[lang] ?? entry.advice.en, { class: 'advice' }));
      }
      if (leg.rawCause) box.append(el('div', `rawCause: ${leg.rawCause}`, { class: 'reason' }));
    } else {
      box.append(el('div', 'still live'));
    }
    legs.append(box);
  }
  for (const ring of call.rings || []) {
    const r = ring.endReason;
    legs.append(el('div', `${ring.identity} on ${ring.endpointId} stopped ringing: ${r.code}/${r.subCode} ${r.name}${ring.rawCause ? ` (${ring.rawCause})` : ''}`,
      { class: `ring cat-${r.resultCategory}`, 'data-endpoint': ring.endpointId }));
  }
  const body = $('timeline').tBodies[0];
  body.replaceChildren();
  for (const event of call.timeline || []) {
    const detail = typeof event.detail === 'string' ? event.detail : (event.detail == null ? '' : JSON.stringify(event.detail));
    const row = el('tr', null, { 'data-kind': event.kind });
    row.append(el('td', event.at.replace('T', ' ')), el('td', event.kind), el('td', detail));
    body.append(row);
  }
  document.body.dataset.shown = call.id;
}

$('signin-form').addEventListener('submit', (e) => { e.preventDefault(); signIn($('key').value.trim()); });
$('signout').addEventListener('click', () => { sessionStorage.removeItem(KEY); state.key = null; showSignedIn(false); });
$('search-form').addEventListener('submit', (e) => { e.preventDefault(); search(); });
$('summary-form').addEventListener('submit', (e) => { e.preventDefault(); summary(); });
$('lang').addEventListener('change', () => { state.lang = $('lang').value; if (state.openCall) show(state.openCall); });

showSignedIn(false);
if (state.key) signIn(state.key);
document.body.dataset.ready = 'true';
