//! SDP comes from clients, through signaling, straight into the media server's parser: whatever a
//! client sends, the core answers or refuses, never panics, and keeps no half-joined participant.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appel_media::client::MediaClient;
use appel_media::{MediaConfig, ParticipantKey, Sfu};
use proptest::prelude::*;

fn sfu() -> Sfu {
    Sfu::new(
        MediaConfig::new("127.0.0.1:40000".parse().unwrap()),
        Instant::now(),
    )
}

fn real_offer() -> String {
    let local: SocketAddr = "127.0.0.1:41000".parse().unwrap();
    MediaClient::new(Instant::now(), local, true, true).1
}

fn check(sdp: &str) {
    let mut core = sfu();
    let key = ParticipantKey::new("call", "p");
    let now = Instant::now();
    match core.join(now, key.clone(), sdp, true, false) {
        Ok(_) => assert_eq!(core.participant_count(), 1),
        Err(_) => assert_eq!(
            core.participant_count(),
            0,
            "a refused offer left something"
        ),
    }
    // Whatever was kept runs its timers and goes.
    core.handle_timeout(now + Duration::from_secs(11));
    assert_eq!(core.participant_count(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_text_is_refused_or_answered_never_a_panic(text in "(?s).{0,400}") {
        check(&text);
    }

    #[test]
    fn a_real_offer_cut_short_anywhere_is_refused_or_answered(cut in 0usize..4000) {
        let offer = real_offer();
        let mut end = cut.min(offer.len());
        while !offer.is_char_boundary(end) {
            end -= 1;
        }
        check(&offer[..end]);
    }

    #[test]
    fn a_real_offer_with_one_line_replaced_is_refused_or_answered(
        line in 0usize..60,
        junk in "[ -~]{0,80}",
    ) {
        let offer = real_offer();
        let mut lines: Vec<&str> = offer.split("\r\n").collect();
        let index = line % lines.len();
        lines[index] = &junk;
        check(&lines.join("\r\n"));
    }
}
