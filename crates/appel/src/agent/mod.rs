//! `appel agent`: a small interactive client built on `appel-sdk`, to try calls by hand.
//!
//! It reads one command a line from stdin (`call ID`, `accept`, `reject`, `hangup`, `hold`,
//! `resume`, `help`, `quit`, or their French names) and prints one line per thing that happens,
//! in the language of `--lang` (`words.rs`). Every end — a call that ends, a
//! ring that stops — is printed with its reason explained in the chosen language, so two terminals
//! show who sees which reason. Lines are stable enough for tests to read; in English:
//! `signed in as ID`, `incoming call CALL from ID`, `call CALL: state STATE`,
//! `call CALL: ended CODE/SUB NAME — explanation`, `ring CALL: stopped CODE/SUB NAME — explanation`,
//! `error: …`; the reason's numbers, entry name and call states are the same in every language.

use std::sync::{Arc, Mutex};

use appel_codes::{registry, CallEndReason, CallingError, Locale};
use appel_sdk::{
    AcceptOptions, Call, CallAgent, CallAgentOptions, CallClient, CallClientOptions, CallEvent,
    HangUpOptions, IdentityId, IncomingCall, StartCallOptions, TokenCredential,
};
use futures_util::StreamExt;
use tokio::io::AsyncBufReadExt;

use crate::rest::RestClient;

mod words;

use words::words;

/// `println!` through [`say_line`].
macro_rules! say {
    ($($arg:tt)*) => {
        say_line(format!($($arg)*))
    };
}

/// How `appel agent` signs in and behaves.
#[derive(Clone, Debug)]
pub struct AgentSettings {
    /// `http(s)://host:port` or `ws(s)://…` of the server.
    pub server: String,
    /// The identity to sign in as.
    pub identity: String,
    /// A user token of that identity; issued through REST with `access_key` when absent.
    pub token: Option<String>,
    /// The server's access key, to issue a token when none is given.
    pub access_key: Option<String>,
    /// Answer every incoming call at once.
    pub auto_accept: bool,
    /// Call this identity as soon as signed in.
    pub call: Option<String>,
    /// Language of the explanations.
    pub locale: Locale,
}

/// One command read from stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentCommand {
    /// `call ID`: call that identity.
    Call(String),
    /// `accept`: answer the call ringing here.
    Accept,
    /// `reject`: decline the call ringing here.
    Reject,
    /// `hangup`: leave the current call (or cancel it while it rings).
    HangUp,
    /// `hold`: put the current call on hold.
    Hold,
    /// `resume`: take the current call off hold.
    Resume,
    /// `help`: list the commands.
    Help,
    /// `quit`: hang up, sign out and exit.
    Quit,
}

/// Reads one command line, in English or French; empty lines give `Ok(None)`, unknown ones a
/// 900900 error worded in `locale`.
pub fn parse_command(line: &str, locale: Locale) -> Result<Option<AgentCommand>, CallingError> {
    let mut tokens = line.split_whitespace();
    let Some(verb) = tokens.next() else {
        return Ok(None);
    };
    let argument = tokens.next();
    let command = match (verb.to_ascii_lowercase().as_str(), argument) {
        ("call" | "appeler", Some(id)) => AgentCommand::Call(id.to_string()),
        ("accept" | "accepter", None) => AgentCommand::Accept,
        ("reject" | "refuser", None) => AgentCommand::Reject,
        ("hangup" | "hang-up" | "raccrocher", None) => AgentCommand::HangUp,
        ("hold" | "attente", None) => AgentCommand::Hold,
        ("resume" | "reprendre", None) => AgentCommand::Resume,
        ("help" | "aide" | "?", None) => AgentCommand::Help,
        ("quit" | "exit" | "quitter", None) => AgentCommand::Quit,
        _ => {
            return Err(
                CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                    "`{}`: {}",
                    line.trim(),
                    words(locale).unknown_command
                )),
            )
        }
    };
    if tokens.next().is_some() {
        return Err(
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "`{}`: {}",
                line.trim(),
                words(locale).too_many_words
            )),
        );
    }
    Ok(Some(command))
}

/// What the command loop and the event printers share: the call in progress and the ring waiting.
#[derive(Default)]
struct Session {
    current: Mutex<Option<Call>>,
    ringing: Mutex<Option<IncomingCall>>,
    /// The server's directory, read with this agent's own token (`GET /people`).
    people: Option<RestClient>,
}

impl Session {
    /// Whom `call X` means: the one person named X when the directory knows exactly one, else X
    /// taken as an identity id.
    async fn callee(&self, target: &str) -> String {
        let Some(people) = &self.people else {
            return target.to_string();
        };
        match people.people(target).await {
            Ok(page) => crate::rest::named(&page, target).unwrap_or_else(|| target.to_string()),
            Err(_) => target.to_string(),
        }
    }

    fn current(&self) -> Option<Call> {
        self.current.lock().ok().and_then(|c| c.clone())
    }

    fn set_current(&self, call: Call) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some(call);
        }
    }

    fn take_ringing(&self) -> Option<IncomingCall> {
        self.ringing.lock().ok().and_then(|mut r| r.take())
    }
}

/// Runs the agent until `quit` or the end of stdin.
pub async fn run(settings: AgentSettings) -> Result<(), CallingError> {
    let token = match (&settings.token, &settings.access_key) {
        (Some(token), _) => token.clone(),
        (None, Some(key)) => {
            let rest = RestClient::new(&settings.server, key)?;
            // `--identity Bob`: a display name stands for the one identity that bears it.
            let page = rest.identities(Some(&settings.identity), None, 20).await?;
            let identity = crate::rest::named(&page, &settings.identity)
                .unwrap_or_else(|| settings.identity.clone());
            rest.issue_token(&identity).await?
        }
        (None, None) => {
            return Err(CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context("give --token, or --access-key to issue one"))
        }
    };
    let client = CallClient::new(CallClientOptions::default());
    // A command-line agent has no camera or microphone of its own; virtual ones let its group
    // calls and rooms carry real (generated) audio through the media server, as an app's would.
    let devices = client.device_manager();
    devices.add_virtual_microphone("appel agent microphone");
    devices.add_virtual_camera("appel agent camera");
    let agent = client
        .create_call_agent(
            TokenCredential::new(token.clone()),
            CallAgentOptions::new(&settings.server),
        )
        .await?;
    let w = words(settings.locale);
    say!("{} {}", w.signed_in, agent.identity());
    let session = Arc::new(Session {
        people: RestClient::new(&settings.server, &token).ok(),
        ..Session::default()
    });
    watch_connection(&agent, settings.locale);
    watch_incoming(&agent, &session, settings.auto_accept, settings.locale);
    if let Some(target) = &settings.call {
        let target = session.callee(target).await;
        start_call(&agent, &session, &target, settings.locale);
    }
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match parse_command(&line, settings.locale) {
            Ok(None) => {}
            Ok(Some(AgentCommand::Quit)) => break,
            Ok(Some(command)) => execute(&agent, &session, command, settings.locale).await,
            Err(error) => say!("{} {}", w.error, error.describe(settings.locale)),
        }
    }
    // A call that already ended has printed its end through its event stream.
    if let Some(call) = session.current().filter(|call| call.end_reason().is_none()) {
        let _ = call.hang_up(HangUpOptions::default()).await;
        // Print the end before leaving, so a script reading stdout sees it.
        let reason = call.ended().await;
        print_end(End::Call, &call_label(&call), reason, settings.locale);
    }
    agent.dispose().await;
    say!("{}", w.signed_out);
    Ok(())
}

async fn execute(agent: &CallAgent, session: &Arc<Session>, command: AgentCommand, locale: Locale) {
    let w = words(locale);
    let nothing = |context: &str| {
        CallingError::new(&registry::INVALID_ARGUMENT).with_context(context.to_string())
    };
    let outcome = match command {
        AgentCommand::Call(target) => {
            let target = session.callee(&target).await;
            start_call(agent, session, &target, locale);
            Ok(())
        }
        AgentCommand::Accept => match session.take_ringing() {
            Some(ring) => accept(&ring, session, locale).await,
            None => Err(nothing(w.nothing_ringing)),
        },
        AgentCommand::Reject => match session.take_ringing() {
            Some(ring) => ring.reject().await,
            None => Err(nothing(w.nothing_ringing)),
        },
        AgentCommand::HangUp => match session.current() {
            Some(call) => call.hang_up(HangUpOptions::default()).await,
            None => Err(nothing(w.no_call)),
        },
        AgentCommand::Hold => match session.current() {
            Some(call) => call.hold().await,
            None => Err(nothing(w.no_call)),
        },
        AgentCommand::Resume => match session.current() {
            Some(call) => call.resume().await,
            None => Err(nothing(w.no_call)),
        },
        AgentCommand::Help => {
            say!("{}", w.help);
            Ok(())
        }
        AgentCommand::Quit => Ok(()),
    };
    if let Err(error) = outcome {
        say!("{} {}", w.error, error.describe(locale));
    }
}

/// Prints one line; when nobody reads stdout any more (the terminal or the pipe closed), the agent
/// has no one to talk to and leaves quietly.
fn say_line(line: String) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

fn start_call(agent: &CallAgent, session: &Arc<Session>, target: &str, locale: Locale) {
    let w = words(locale);
    match agent.start_call(&[IdentityId::from(target)], StartCallOptions::default()) {
        Ok(call) => {
            say!("{} {target}", w.calling);
            session.set_current(call.clone());
            print_call_events(call, locale);
        }
        Err(error) => say!("{} {}", w.error, error.describe(locale)),
    }
}

async fn accept(
    ring: &IncomingCall,
    session: &Arc<Session>,
    locale: Locale,
) -> Result<(), CallingError> {
    let call = ring.accept(AcceptOptions::default()).await?;
    session.set_current(call.clone());
    print_call_events(call, locale);
    Ok(())
}

fn watch_connection(agent: &CallAgent, locale: Locale) {
    let mut states = agent.connection_states();
    let w = words(locale);
    tokio::spawn(async move {
        while let Some(state) = states.next().await {
            say!("{} {state:?}", w.connection);
        }
    });
}

fn watch_incoming(agent: &CallAgent, session: &Arc<Session>, auto_accept: bool, locale: Locale) {
    let mut incoming = agent.incoming_calls();
    let session = Arc::clone(session);
    let w = words(locale);
    tokio::spawn(async move {
        while let Some(ring) = incoming.next().await {
            let watched = ring.clone();
            tokio::spawn(async move {
                let reason = watched.stopped().await;
                print_end(End::Ring, &watched.id().to_string(), reason, locale);
            });
            if auto_accept {
                say!("{} {} {} {}", w.incoming, ring.id(), w.from, ring.caller());
                if let Err(error) = accept(&ring, &session, locale).await {
                    say!("{} {}", w.error, error.describe(locale));
                }
            } else {
                // Kept before it is announced, so an `accept` typed right after finds it.
                let announce = format!(
                    "{} {} {} {} {}",
                    w.incoming,
                    ring.id(),
                    w.from,
                    ring.caller(),
                    w.answer_hint
                );
                if let Ok(mut ringing) = session.ringing.lock() {
                    *ringing = Some(ring);
                }
                say_line(announce);
            }
        }
    });
}

fn call_label(call: &Call) -> String {
    call.id()
        .map(|id| id.to_string())
        .unwrap_or_else(|| "(unconfirmed)".into())
}

fn print_call_events(call: Call, locale: Locale) {
    let w = words(locale);
    tokio::spawn(async move {
        let mut events = call.events();
        while let Some(event) = events.next().await {
            let label = format!("{} {}", w.call, call_label(&call));
            match event {
                CallEvent::IdAssigned(id) => say!("{} {id}: {}", w.call, w.id_assigned),
                CallEvent::StateChanged(state) => say!("{label}: {} {state:?}", w.state),
                CallEvent::RemoteParticipantsUpdated { added, removed } => {
                    for p in added {
                        say!("{label}: {} {} ({:?})", p.identity, w.joined, p.state);
                    }
                    for p in removed {
                        if let Some(reason) = p.end_reason {
                            say!(
                                "{label}: {} {} {}",
                                p.identity,
                                w.left,
                                describe_reason(reason, locale)
                            );
                        }
                    }
                }
                CallEvent::RemoteParticipantStateChanged(p) => {
                    say!("{label}: {} {} {:?}", p.identity, w.is, p.state);
                }
                CallEvent::Signal { .. } => {}
                CallEvent::Ended(reason) => {
                    print_end(End::Call, &call_label(&call), reason, locale)
                }
                other => say!("{label}: {other:?}"),
            }
        }
    });
}

/// `CODE/SUB NAME — message Category: CATEGORY. Advice: advice`, labelled as `appel explain`
/// labels them, so a category (`Success` for a declined call) reads as the catalogue's
/// classification of the outcome, not as a verdict on the call.
pub fn describe_reason(reason: CallEndReason, locale: Locale) -> String {
    let w = words(locale);
    let entry = reason.entry();
    format!(
        "{reason} {} — {} {} {}. {} {}",
        entry.name,
        entry.message(locale),
        w.category,
        entry.category,
        w.advice,
        entry.advice(locale)
    )
}

/// What ended: a call, or a ring that stopped.
#[derive(Clone, Copy)]
enum End {
    Call,
    Ring,
}

fn print_end(what: End, label: &str, reason: CallEndReason, locale: Locale) {
    let w = words(locale);
    let (noun, verb) = match what {
        End::Call => (w.call, w.ended),
        End::Ring => (w.ring, w.stopped),
    };
    say!("{noun} {label}: {verb} {}", describe_reason(reason, locale));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_give_900900() {
        assert_eq!(
            parse_command("call bob", Locale::En).unwrap(),
            Some(AgentCommand::Call("bob".into()))
        );
        assert_eq!(
            parse_command("  HANGUP ", Locale::En).unwrap(),
            Some(AgentCommand::HangUp)
        );
        assert_eq!(parse_command("", Locale::En).unwrap(), None);
        assert_eq!(
            parse_command("appeler bob", Locale::Fr).unwrap(),
            Some(AgentCommand::Call("bob".into()))
        );
        assert_eq!(
            parse_command("aide", Locale::Fr).unwrap(),
            Some(AgentCommand::Help)
        );
        let error = parse_command("danser", Locale::Fr).unwrap_err();
        assert!(error.describe(Locale::Fr).contains("commande inconnue"));
        for bad in ["call", "dance", "accept now", "call a b"] {
            let error = parse_command(bad, Locale::En).unwrap_err();
            assert!(error.is(&registry::INVALID_ARGUMENT), "{bad}");
        }
    }
}
