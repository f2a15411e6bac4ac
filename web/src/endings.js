// The web app's words and how it tells a person why their call ended. The sentences about an end
// come from the catalogue (`explain(code, subCode).endUser`, written in crates/appel-codes); this
// file only chooses whose point of view applies and holds the app's own labels in both languages.

/** The app's own labels, by language. `{name}` and `{n}` are filled in by `t`. */
export const LABELS = {
  en: {
    language: 'Language',
    signIn: 'Sign in',
    devNote: 'Development mode: pick a name and the server gives you an identity and a token.',
    devOff: 'Development mode is off: sign in with a token issued by your backend.',
    yourName: 'Your name',
    tokenSummary: 'Sign in with a token from your backend',
    accessToken: 'Access token',
    callSomeone: 'Call someone',
    searchPeople: 'Search by name',
    identity: 'Identity',
    video: 'video',
    call: 'Call',
    callName: 'Call {name}',
    nobody: 'Nobody found.',
    recentCalls: 'Recent calls',
    noRecent: 'No calls yet.',
    incomingFrom: 'Incoming call from',
    accept: 'Accept',
    acceptVideo: 'Accept with video',
    reject: 'Decline',
    callWith: 'Call with',
    mute: 'Mute',
    unmute: 'Unmute',
    hold: 'Hold',
    resume: 'Resume',
    shareScreen: 'Share screen',
    hangUp: 'Hang up',
    callEnded: 'Call ended',
    details: 'Details',
    callId: 'Call id',
    back: 'Back',
    online: 'online',
    inCall: 'in a call',
    offline: 'offline',
    outgoing: 'Outgoing',
    incoming: 'Incoming',
    unknownEnd: 'The call ended.',
    videoButton: 'Video',
    groupCalls: 'Group calls and rooms',
    startGroup: 'Start a group call',
    joinId: 'Call or room id',
    join: 'Join',
    joinRoom: 'Join room',
    invite: 'Invite',
    endForEveryone: 'End for everyone',
    groupCall: 'Group call',
    you: 'You',
    muted: 'muted',
    noVideo: 'no video',
    state_Connecting: 'connecting',
    state_Ringing: 'ringing',
    state_EarlyMedia: 'connecting',
    state_Connected: 'connected',
    state_LocalHold: 'on hold',
    state_RemoteHold: 'put on hold',
    state_InLobby: 'waiting to be let in',
    state_Disconnecting: 'ending',
    state_Disconnected: 'ended',
    state_None: '',
    connection_Reconnecting: 'Reconnecting…',
    connection_Disconnected: 'Disconnected',
    connection_Connected: '',
  },
  fr: {
    language: 'Langue',
    signIn: 'Se connecter',
    devNote: 'Mode développement : choisissez un nom, le serveur vous donne une identité et un jeton.',
    devOff: 'Le mode développement est désactivé : connectez-vous avec un jeton émis par votre backend.',
    yourName: 'Votre nom',
    tokenSummary: 'Se connecter avec un jeton de votre backend',
    accessToken: "Jeton d'accès",
    callSomeone: 'Appeler quelqu’un',
    searchPeople: 'Chercher par nom',
    identity: 'Identité',
    video: 'vidéo',
    call: 'Appeler',
    callName: 'Appeler {name}',
    nobody: 'Personne trouvé.',
    recentCalls: 'Appels récents',
    noRecent: 'Aucun appel pour l’instant.',
    incomingFrom: 'Appel entrant de',
    accept: 'Répondre',
    acceptVideo: 'Répondre en vidéo',
    reject: 'Refuser',
    callWith: 'Appel avec',
    mute: 'Couper le micro',
    unmute: 'Rétablir le micro',
    hold: 'Mettre en attente',
    resume: 'Reprendre',
    shareScreen: 'Partager l’écran',
    hangUp: 'Raccrocher',
    callEnded: 'Appel terminé',
    details: 'Détails',
    callId: "Identifiant de l'appel",
    back: 'Retour',
    online: 'en ligne',
    inCall: 'en appel',
    offline: 'hors ligne',
    outgoing: 'Sortant',
    incoming: 'Entrant',
    unknownEnd: "L'appel est terminé.",
    videoButton: 'Vidéo',
    groupCalls: 'Appels de groupe et salles',
    startGroup: 'Démarrer un appel de groupe',
    joinId: "Identifiant de l'appel ou de la salle",
    join: 'Rejoindre',
    joinRoom: 'Rejoindre la salle',
    invite: 'Inviter',
    endForEveryone: 'Terminer pour tous',
    groupCall: 'Appel de groupe',
    you: 'Vous',
    muted: 'micro coupé',
    noVideo: 'pas de vidéo',
    state_Connecting: 'connexion',
    state_Ringing: 'sonnerie',
    state_EarlyMedia: 'connexion',
    state_Connected: 'en communication',
    state_LocalHold: 'en attente',
    state_RemoteHold: 'mis en attente',
    state_InLobby: "en salle d'attente",
    state_Disconnecting: 'fin',
    state_Disconnected: 'terminé',
    state_None: '',
    connection_Reconnecting: 'Reconnexion…',
    connection_Disconnected: 'Déconnecté',
    connection_Connected: '',
  },
};

/** A label in `locale`, with `{name}`-style fields replaced from `fields`. */
export function t(locale, key, fields = {}) {
  const text = (LABELS[locale] || LABELS.en)[key] ?? LABELS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, field) => (field in fields ? String(fields[field]) : whole));
}

/** Puts every `data-i18n` label (text) and `data-i18n-placeholder` (placeholder) in `locale`. */
export function translatePage(root, locale) {
  for (const element of root.querySelectorAll('[data-i18n]')) element.textContent = t(locale, element.dataset.i18n);
  for (const element of root.querySelectorAll('[data-i18n-placeholder]')) element.placeholder = t(locale, element.dataset.i18nPlaceholder);
  root.documentElement.lang = locale;
}

/** "3 min 12 s", "45 s", "1 h 02 min": the same units read in English and French. */
export function formatDuration(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

/**
 * Who ended it, in one shape whatever the source: the SDKs' `{kind: "this" | "participant" |
 * "callControl" | "server"}`, or the records' wire form `{by: "participant" | "callControl" |
 * "server"}` (where the viewer's own identity means "this").
 */
export function normalizeEndedBy(endedBy, myIdentity) {
  if (!endedBy) return null;
  if (endedBy.kind) return endedBy;
  if (endedBy.by === 'participant') {
    return endedBy.identity === myIdentity
      ? { kind: 'this' }
      : { kind: 'participant', participantId: endedBy.participantId, identity: endedBy.identity };
  }
  return { kind: endedBy.by, cause: endedBy.cause };
}

/**
 * The point of view of the person who sees an end (the viewers of docs/codes.md, "End-user
 * texts"), and whose name fills `{name}`:
 * - their call never connected: `caller` or `callee`, named after the other party;
 * - another participant ended it, or dropped out and so ended it: `other`, named after them;
 * - otherwise (they hung up, their own side failed, the server or the backend ended it): `you`.
 */
export function viewpoint({ endedBy, outgoing, connected, otherIdentity, leftFirst }) {
  if (!connected) return { viewer: outgoing ? 'caller' : 'callee', identity: otherIdentity };
  if (endedBy && endedBy.kind === 'participant') return { viewer: 'other', identity: endedBy.identity };
  if (endedBy && endedBy.kind === 'this') return { viewer: 'you', identity: otherIdentity };
  if (leftFirst) return { viewer: 'other', identity: leftFirst };
  return { viewer: 'you', identity: otherIdentity };
}

const FALLBACK = { you: ['other'], other: ['you'], caller: ['you', 'other'], callee: ['you', 'other'] };

/** The catalogue's sentence for `viewer` (or the closest one it has), with `{name}` filled in. */
export function endSentence(entry, viewer, name, locale) {
  const texts = entry && entry.endUser;
  if (!texts) return t(locale, 'unknownEnd');
  const chosen = [viewer, ...FALLBACK[viewer]].map((v) => texts[v]).find(Boolean) || Object.values(texts)[0];
  // A function, so that a name holding `$&` or `$'` is put in as written.
  return chosen.replaceAll('{name}', () => name);
}
