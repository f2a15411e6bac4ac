//! How the state of a WebRTC connection becomes a call-end reason (410/3100, 3101, 3111, 3112).

use appel_codes::{registry, CallingError};

/// What the browser said about the media connection of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaEvent<'a> {
    /// `iceConnectionState` became `failed`.
    IceFailed,
    /// `iceConnectionState` became `disconnected` and stayed so past the recovery window. Chromium
    /// also passes through `disconnected` while its first checks go unanswered, so this is a setup
    /// failure when media never connected.
    IceLostNotRecovered,
    /// Applying the peer's offer or answer failed (`setRemoteDescription` rejected).
    DescriptionRejected(&'a str),
    /// ICE gathering completed without one candidate the policy lets us use.
    NoUsableCandidates,
}

/// The reason that ends the call for this client, given whether media had connected before.
pub fn media_end_error(event: MediaEvent<'_>, had_connected: bool) -> CallingError {
    match event {
        MediaEvent::IceFailed if had_connected => {
            CallingError::new(&registry::MEDIA_CONNECTION_LOST).with_raw_cause("ICE state failed")
        }
        MediaEvent::IceFailed => {
            CallingError::new(&registry::MEDIA_SETUP_FAILED).with_raw_cause("ICE state failed")
        }
        MediaEvent::IceLostNotRecovered if had_connected => {
            CallingError::new(&registry::MEDIA_CONNECTION_LOST)
                .with_raw_cause("ICE state disconnected")
        }
        MediaEvent::IceLostNotRecovered => CallingError::new(&registry::MEDIA_SETUP_FAILED)
            .with_raw_cause("ICE state disconnected before media ever connected"),
        MediaEvent::DescriptionRejected(why) => {
            CallingError::new(&registry::MEDIA_OFFER_INVALID).with_raw_cause(why.to_string())
        }
        MediaEvent::NoUsableCandidates => CallingError::new(&registry::MEDIA_BLOCKED_BY_NETWORK)
            .with_raw_cause("ICE gathering complete with no usable candidate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_failure_before_and_after_connecting_differ() {
        assert!(media_end_error(MediaEvent::IceFailed, false).is(&registry::MEDIA_SETUP_FAILED));
        assert!(media_end_error(MediaEvent::IceFailed, true).is(&registry::MEDIA_CONNECTION_LOST));
        assert!(media_end_error(MediaEvent::IceLostNotRecovered, true)
            .is(&registry::MEDIA_CONNECTION_LOST));
        assert!(media_end_error(MediaEvent::IceLostNotRecovered, false)
            .is(&registry::MEDIA_SETUP_FAILED));
        let bad = media_end_error(MediaEvent::DescriptionRejected("bad sdp"), false);
        assert!(bad.is(&registry::MEDIA_OFFER_INVALID));
        assert_eq!(bad.raw_cause(), Some("bad sdp"));
        assert!(media_end_error(MediaEvent::NoUsableCandidates, false)
            .is(&registry::MEDIA_BLOCKED_BY_NETWORK));
    }
}
