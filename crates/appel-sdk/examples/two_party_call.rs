//! The smallest Appel program: two identities on one machine, one calls the other, the callee
//! answers, the caller hangs up, and each prints why its call ended.
//!
//! Start a server (`appel serve`), then:
//! `APPEL_URL=http://127.0.0.1:8080 CALLER_TOKEN=… CALLEE_TOKEN=… CALLEE_ID=… cargo run -p appel-sdk --example two_party_call`
//! (tokens and ids come from `POST /identities` and `POST /identities/{id}/token`).

use appel_sdk::{
    AcceptOptions, CallAgentOptions, CallClient, CallClientOptions, CallEvent, CallingError,
    HangUpOptions, IdentityId, Locale, StartCallOptions, TokenCredential,
};
use futures_util::StreamExt;

fn setting(name: &str) -> Result<String, CallingError> {
    std::env::var(name).map_err(|_| {
        CallingError::new(&appel_codes::registry::INVALID_ARGUMENT)
            .with_context(format!("set {name}"))
    })
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("{}", error.describe(Locale::En));
        eprintln!("advice: {}", error.advice(Locale::En));
        std::process::exit(1);
    }
}

async fn run() -> Result<(), CallingError> {
    let url = setting("APPEL_URL")?;
    let caller_client = CallClient::new(CallClientOptions::default());
    let callee_client = CallClient::new(CallClientOptions::default());
    let caller = caller_client
        .create_call_agent(
            TokenCredential::new(setting("CALLER_TOKEN")?),
            CallAgentOptions::new(&url),
        )
        .await?;
    let callee = callee_client
        .create_call_agent(
            TokenCredential::new(setting("CALLEE_TOKEN")?),
            CallAgentOptions::new(&url),
        )
        .await?;

    let mut incoming_calls = callee.incoming_calls();
    let call = caller.start_call(
        &[IdentityId::from(setting("CALLEE_ID")?)],
        StartCallOptions::default(),
    )?;

    let Some(incoming) = incoming_calls.next().await else {
        return Ok(());
    };
    println!("{} is calling", incoming.caller());
    let answered = incoming.accept(AcceptOptions::default()).await?;

    let mut events = call.events();
    while let Some(event) = events.next().await {
        println!("caller: {event:?}");
        if event == CallEvent::StateChanged(appel_sdk::CallState::Connected) {
            call.hang_up(HangUpOptions::default()).await?;
        }
    }
    for (who, reason) in [
        ("caller", call.ended().await),
        ("callee", answered.ended().await),
    ] {
        println!("{who}: {}", reason.explain(Locale::En));
    }
    caller.dispose().await;
    callee.dispose().await;
    Ok(())
}
