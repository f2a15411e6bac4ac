//! Short texts for the people who see a call end, written from their point of view.
//!
//! An entry's message and advice speak to developers ("this participant hung up"); the person on
//! an end screen needs "Bob hung up" or "You declined the call". Each call-end entry has one text
//! per point of view it can be seen from ([`Viewer`]), in every language of the catalogue.
//! `{name}` stands for the other party's name (the one who ended the call, the person called, or
//! the caller), filled in by [`EndUserText::render`].

use crate::model::{Entry, Locale, Scope, Text};

/// Who reads the text, relative to the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Viewer {
    /// The viewer was in the call and ended it, or their own part of it ended without another
    /// participant causing it (their device, the server, the application's backend).
    You,
    /// The viewer was in the call and another participant, `{name}`, ended it or dropped out of
    /// it.
    Other,
    /// The viewer placed the call and it never connected; `{name}` is the person called.
    Caller,
    /// The viewer was called and never joined the call; `{name}` is the caller.
    Callee,
}

impl Viewer {
    /// Every point of view, in the order the generated files list them.
    pub const ALL: [Viewer; 4] = [Viewer::You, Viewer::Other, Viewer::Caller, Viewer::Callee];

    /// The name used in JSON and TypeScript.
    pub const fn as_str(self) -> &'static str {
        match self {
            Viewer::You => "you",
            Viewer::Other => "other",
            Viewer::Caller => "caller",
            Viewer::Callee => "callee",
        }
    }
}

/// One end-user text: for whom, and what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndUserText {
    /// The point of view.
    pub viewer: Viewer,
    /// The text; may hold `{name}`.
    pub text: Text,
}

/// The placeholder for the other party's name.
pub const NAME_PLACEHOLDER: &str = "{name}";

impl EndUserText {
    /// The text in `locale` with `{name}` replaced by `name`.
    pub fn render(&self, locale: Locale, name: &str) -> String {
        self.text.get(locale).replace(NAME_PLACEHOLDER, name)
    }
}

macro_rules! texts {
    ($($viewer:ident: $en:literal / $fr:literal;)*) => {
        &[$(EndUserText { viewer: Viewer::$viewer, text: Text { en: $en, fr: $fr } }),*]
    };
}

/// The end-user texts of `entry`: every point of view it can be seen from, empty for an entry that
/// does not end a call.
pub fn end_user_texts(entry: &Entry) -> &'static [EndUserText] {
    if entry.scope != Scope::CallEnd {
        return &[];
    }
    match entry.name {
        "CALL_ENDED_LOCALLY" => texts! {
            You: "You hung up." / "Vous avez raccroché.";
            Other: "{name} hung up." / "{name} a raccroché.";
            Caller: "You cancelled the call." / "Vous avez annulé l'appel.";
            Callee: "You declined the call." / "Vous avez refusé l'appel.";
        },
        "CALL_CANCELLED_BY_CALLER" => texts! {
            Callee: "{name} hung up before you answered." / "{name} a raccroché avant que vous répondiez.";
        },
        "CALL_DECLINED" | "ALL_ENDPOINTS_DECLINED" => texts! {
            Caller: "{name} declined the call." / "{name} a refusé l'appel.";
            Other: "{name} declined the call." / "{name} a refusé l'appel.";
        },
        "ALL_TARGETS_DECLINED" => texts! {
            Caller: "Everyone you called declined." / "Toutes les personnes appelées ont refusé.";
        },
        "NETWORK_LOST" => texts! {
            You: "Your connection dropped and didn't come back in time, so the call ended." / "Votre connexion a été coupée et n'est pas revenue à temps, l'appel a donc pris fin.";
            Caller: "Your connection dropped before the call could connect." / "Votre connexion a été coupée avant que l'appel aboutisse.";
            Callee: "Your connection dropped before you could answer." / "Votre connexion a été coupée avant que vous puissiez répondre.";
        },
        "MEDIA_SETUP_FAILED" => texts! {
            You: "The call couldn't connect: your network found no way through for sound and video." / "L'appel n'a pas pu aboutir : votre réseau n'a trouvé aucun passage pour le son et la vidéo.";
            Caller: "The call to {name} couldn't connect: no network path for sound and video." / "L'appel à {name} n'a pas pu aboutir : aucun chemin réseau pour le son et la vidéo.";
        },
        "MEDIA_CONNECTION_LOST" => texts! {
            You: "Sound and video were cut off and couldn't be restored." / "Le son et la vidéo ont été coupés et n'ont pas pu être rétablis.";
        },
        "MEDIA_OFFER_INVALID" => texts! {
            You: "The call couldn't connect: the two devices couldn't agree on sound and video." / "L'appel n'a pas pu aboutir : les deux appareils n'ont pas pu s'accorder sur le son et la vidéo.";
        },
        "MEDIA_BLOCKED_BY_NETWORK" => texts! {
            You: "Your network blocks calls: sound and video can't get through. Try another network." / "Votre réseau bloque les appels : le son et la vidéo ne passent pas. Essayez un autre réseau.";
        },
        "ENDED_FOR_EVERYONE" => texts! {
            Other: "{name} ended the call for everyone." / "{name} a mis fin à l'appel pour tout le monde.";
            You: "The call was ended for everyone." / "L'appel a été terminé pour tout le monde.";
        },
        "HTTP_REQUEST_FAILED" => texts! {
            You: "The call failed: the service couldn't be reached. Check your connection." / "L'appel a échoué : le service est injoignable. Vérifiez votre connexion.";
        },
        "CALL_SETUP_TIMEOUT" => texts! {
            You: "The call took too long to connect and was stopped." / "L'appel a mis trop de temps à s'établir et a été interrompu.";
        },
        "TOKEN_EXPIRED_DURING_CALL" => texts! {
            You: "Your session expired, so the call ended. Sign in again to call." / "Votre session a expiré, l'appel a donc pris fin. Reconnectez-vous pour appeler.";
            Other: "{name}'s session expired, so they left the call." / "La session de {name} a expiré, cette personne a donc quitté l'appel.";
        },
        "ABRUPT_DISCONNECT" => texts! {
            Other: "{name}'s connection was lost." / "La connexion de {name} a été perdue.";
            You: "The connection with the other side was lost." / "La connexion avec votre correspondant a été perdue.";
        },
        "REMOVED_BY_PARTICIPANT" => texts! {
            Other: "{name} removed you from the call." / "{name} vous a retiré de l'appel.";
            You: "You removed {name} from the call." / "Vous avez retiré {name} de l'appel.";
        },
        "REMOVED_BY_SERVER" => texts! {
            You: "You were removed from the call." / "Vous avez été retiré de l'appel.";
            Other: "{name} was removed from the call." / "{name} a été retiré de l'appel.";
        },
        "REMOVED_ROLE_CHANGED" => texts! {
            You: "Your place in this meeting changed, so you left the call." / "Votre place dans cette réunion a changé, vous avez donc quitté l'appel.";
            Other: "{name}'s place in this meeting changed, so they left the call." / "La place de {name} dans cette réunion a changé, cette personne a donc quitté l'appel.";
        },
        "ROOM_NOT_INVITED" => texts! {
            You: "You're not on this meeting's guest list." / "Vous n'êtes pas sur la liste des invités de cette réunion.";
        },
        "ROOM_OUTSIDE_VALIDITY" => texts! {
            You: "This meeting isn't open at this time." / "Cette réunion n'est pas ouverte en ce moment.";
        },
        "ROOM_USER_KIND_NOT_ALLOWED" => texts! {
            You: "Your kind of account can't join this meeting." / "Votre type de compte ne peut pas rejoindre cette réunion.";
        },
        "ENDED_BY_SERVER" => texts! {
            You: "The call was ended by the service." / "L'appel a été terminé par le service.";
        },
        "CALL_ACCEPTED_ELSEWHERE" => texts! {
            Callee: "You answered on another device." / "Vous avez répondu sur un autre appareil.";
        },
        "RINGING_TIMEOUT" => texts! {
            Caller: "{name} didn't answer." / "{name} n'a pas répondu.";
            Callee: "You missed a call from {name}." / "Vous avez manqué un appel de {name}.";
            Other: "{name} didn't answer." / "{name} n'a pas répondu.";
        },
        "UNAUTHENTICATED" => texts! {
            You: "You were signed out, so the call ended. Sign in again to call." / "Vous avez été déconnecté, l'appel a donc pris fin. Reconnectez-vous pour appeler.";
            Other: "{name} was signed out and left the call." / "{name} a été déconnecté et a quitté l'appel.";
        },
        "TARGET_NEVER_REGISTERED" => texts! {
            Caller: "{name} can't be called: they have never signed in to this service." / "Impossible d'appeler {name} : cette personne ne s'est jamais connectée à ce service.";
            Other: "{name} can't be called: they have never signed in to this service." / "Impossible d'appeler {name} : cette personne ne s'est jamais connectée à ce service.";
        },
        "CALLEE_SETUP_INCOMPLETE" => texts! {
            Caller: "{name} answered, but the call couldn't finish connecting." / "{name} a répondu, mais l'appel n'a pas pu finir de s'établir.";
            Other: "{name}'s side couldn't finish connecting." / "Le côté de {name} n'a pas pu finir de s'établir.";
            You: "You answered, but the call couldn't finish connecting." / "Vous avez répondu, mais l'appel n'a pas pu finir de s'établir.";
        },
        "TARGET_OFFLINE" => texts! {
            Caller: "{name} is offline." / "{name} est hors ligne.";
            Other: "{name} is offline." / "{name} est hors ligne.";
            Callee: "{name} called while you were offline." / "{name} a appelé pendant que vous étiez hors ligne.";
        },
        "TARGET_OFFLINE_AFTER_PUSH" => texts! {
            Caller: "{name} was notified but didn't come online in time." / "{name} a été prévenu mais ne s'est pas connecté à temps.";
            Other: "{name} was notified but didn't come online in time." / "{name} a été prévenu mais ne s'est pas connecté à temps.";
            Callee: "{name} called, but you didn't come online in time." / "{name} a appelé, mais vous ne vous êtes pas connecté à temps.";
        },
        "TARGET_UNREACHABLE" => texts! {
            Caller: "{name} couldn't be reached." / "{name} n'a pas pu être joint.";
            Other: "{name} couldn't be reached." / "{name} n'a pas pu être joint.";
            Callee: "A call from {name} didn't reach this device in time." / "Un appel de {name} n'a pas atteint cet appareil à temps.";
        },
        "MEDIA_SERVER_UNREACHED_DURING_SETUP" => texts! {
            You: "The call couldn't connect sound and video through the service." / "L'appel n'a pas pu faire passer le son et la vidéo par le service.";
        },
        "MEDIA_SERVER_CONNECTION_LOST" => texts! {
            You: "Your sound and video connection to the service was lost." / "Votre connexion son et vidéo avec le service a été perdue.";
            Other: "{name}'s sound and video connection was lost." / "La connexion son et vidéo de {name} a été perdue.";
        },
        "PSTN_OUTBOUND_REFUSED" => texts! {
            Caller: "The call to {name} couldn't be placed." / "L'appel vers {name} n'a pas pu être passé.";
        },
        "PSTN_CALLER_HUNG_UP" | "PSTN_REMOTE_HUNG_UP" => texts! {
            Other: "{name} hung up." / "{name} a raccroché.";
        },
        "PSTN_CALLER_CANCELLED" => texts! {
            Callee: "{name} hung up before you answered." / "{name} a raccroché avant que vous répondiez.";
        },
        "PSTN_REMOTE_BUSY" => texts! {
            Caller: "{name}'s line is busy." / "La ligne de {name} est occupée.";
        },
        "SERVER_SHUTTING_DOWN" => texts! {
            You: "The service is restarting, so the call ended. Try again in a moment." / "Le service redémarre, l'appel a donc pris fin. Réessayez dans un instant.";
        },
        "SERVER_STOPPED_UNEXPECTEDLY" => texts! {
            You: "The service stopped unexpectedly, so the call ended. Try again in a moment." / "Le service s'est arrêté de façon inattendue, l'appel a donc pris fin. Réessayez dans un instant.";
        },
        _ => &[],
    }
}

/// The text for `viewer`, or, when the entry has none for that point of view, the closest one:
/// `You` for someone who was in the call, then whichever the entry has first. `None` only for an
/// entry that does not end a call.
pub fn end_user_text(entry: &Entry, viewer: Viewer) -> Option<&'static EndUserText> {
    let texts = end_user_texts(entry);
    let fallback = match viewer {
        Viewer::Other | Viewer::Caller | Viewer::Callee => Viewer::You,
        Viewer::You => Viewer::Other,
    };
    texts
        .iter()
        .find(|t| t.viewer == viewer)
        .or_else(|| texts.iter().find(|t| t.viewer == fallback))
        .or_else(|| texts.first())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn every_call_end_entry_has_end_user_texts_in_every_language() {
        let mut missing = Vec::new();
        for entry in registry::all().filter(|e| e.scope == Scope::CallEnd) {
            let texts = end_user_texts(entry);
            if texts.is_empty() {
                missing.push(entry.name);
            }
            for text in texts {
                for locale in Locale::ALL {
                    let words = text.text.get(locale);
                    assert!(!words.trim().is_empty(), "{} {locale:?}", entry.name);
                    // Written for a person: no codes, no developer words.
                    for jargon in ["SDK", "SDP", "endpoint", "token", "participant", "HTTP"] {
                        assert!(!words.contains(jargon), "{}: {words}", entry.name);
                    }
                }
                // Both languages name the other party, or neither does.
                assert_eq!(
                    text.text.en.contains(NAME_PLACEHOLDER),
                    text.text.fr.contains(NAME_PLACEHOLDER),
                    "{} {:?}",
                    entry.name,
                    text.viewer
                );
            }
            let mut viewers: Vec<Viewer> = texts.iter().map(|t| t.viewer).collect();
            viewers.dedup();
            assert_eq!(viewers.len(), texts.len(), "{}: a viewer twice", entry.name);
        }
        assert!(
            missing.is_empty(),
            "call-end entries without end-user texts: {missing:?}"
        );
    }

    #[test]
    fn entries_that_end_no_call_have_none() {
        assert!(end_user_texts(&registry::UNAUTHENTICATED).len() == 2);
        assert!(end_user_texts(&registry::ACCEPT_NOT_RINGING).is_empty());
    }

    #[test]
    fn each_side_of_a_hang_up_reads_its_own_words() {
        let hung_up = &registry::CALL_ENDED_LOCALLY;
        let text = |viewer| end_user_text(hung_up, viewer).expect("a text");
        assert_eq!(text(Viewer::You).render(Locale::En, "Bob"), "You hung up.");
        assert_eq!(
            text(Viewer::Other).render(Locale::En, "Bob"),
            "Bob hung up."
        );
        assert_eq!(
            text(Viewer::Other).render(Locale::Fr, "Bob"),
            "Bob a raccroché."
        );
        assert_eq!(
            text(Viewer::Callee).render(Locale::En, "Alice"),
            "You declined the call."
        );
        let missed = end_user_text(&registry::RINGING_TIMEOUT, Viewer::Caller).expect("text");
        assert_eq!(missed.render(Locale::En, "Alice"), "Alice didn't answer.");
        // A point of view an entry lacks falls back to what the viewer can still read.
        let shutdown =
            end_user_text(&registry::SERVER_SHUTTING_DOWN, Viewer::Caller).expect("text");
        assert_eq!(shutdown.viewer, Viewer::You);
    }
}
