//! Every word `appel agent` prints, in English and French. The catalogue's messages and advice
//! come from `appel-codes`; these are the agent's own lines around them. Call states and entry
//! names stay as the SDK and the catalogue spell them, so a script can match them in any language.

use appel_codes::Locale;

/// The agent's lines in one language.
pub(crate) struct Words {
    pub signed_in: &'static str,
    pub signed_out: &'static str,
    pub calling: &'static str,
    pub incoming: &'static str,
    pub from: &'static str,
    pub answer_hint: &'static str,
    pub call: &'static str,
    pub ring: &'static str,
    pub state: &'static str,
    pub ended: &'static str,
    pub stopped: &'static str,
    pub joined: &'static str,
    pub left: &'static str,
    pub is: &'static str,
    pub id_assigned: &'static str,
    pub connection: &'static str,
    pub error: &'static str,
    pub nothing_ringing: &'static str,
    pub no_call: &'static str,
    pub unknown_command: &'static str,
    pub too_many_words: &'static str,
    pub help: &'static str,
    pub category: &'static str,
    pub advice: &'static str,
}

const EN: Words = Words {
    signed_in: "signed in as",
    signed_out: "signed out",
    calling: "calling",
    incoming: "incoming call",
    from: "from",
    answer_hint: "(type `accept` or `reject`)",
    call: "call",
    ring: "ring",
    state: "state",
    ended: "ended",
    stopped: "stopped",
    joined: "joined",
    left: "left",
    is: "is",
    id_assigned: "id assigned",
    connection: "connection:",
    error: "error:",
    nothing_ringing: "no call is ringing here",
    no_call: "no call in progress",
    unknown_command: "unknown command; type `help` for the list",
    too_many_words: "too many words",
    help: "commands:
  call ID    call that identity
  accept     answer the call ringing here
  reject     decline the call ringing here
  hangup     leave the current call (cancels it while it rings)
  hold       put the current call on hold
  resume     take the current call off hold
  help       this list
  quit       hang up, sign out and exit",
    category: "Category:",
    advice: "Advice:",
};

const FR: Words = Words {
    signed_in: "connecté en tant que",
    signed_out: "déconnecté",
    calling: "appel vers",
    incoming: "appel entrant",
    from: "de",
    answer_hint: "(tapez `accepter` ou `refuser`)",
    call: "appel",
    ring: "sonnerie",
    state: "état",
    ended: "terminé",
    stopped: "arrêtée",
    joined: "a rejoint l'appel",
    left: "a quitté l'appel",
    is: "est",
    id_assigned: "identifiant attribué",
    connection: "connexion :",
    error: "erreur :",
    nothing_ringing: "aucun appel ne sonne ici",
    no_call: "aucun appel en cours",
    unknown_command: "commande inconnue ; tapez `aide` pour la liste",
    too_many_words: "trop de mots",
    help: "commandes :
  appeler ID   appeler cette identité (ou call ID)
  accepter     répondre à l'appel qui sonne ici (ou accept)
  refuser      refuser l'appel qui sonne ici (ou reject)
  raccrocher   quitter l'appel en cours ; l'annule s'il sonne encore (ou hangup)
  attente      mettre l'appel en cours en attente (ou hold)
  reprendre    reprendre l'appel mis en attente (ou resume)
  aide         cette liste (ou help)
  quitter      raccrocher, se déconnecter et sortir (ou quit)",
    category: "Catégorie :",
    advice: "Conseil :",
};

/// The words of `locale`.
pub(crate) fn words(locale: Locale) -> &'static Words {
    match locale {
        Locale::En => &EN,
        Locale::Fr => &FR,
    }
}
