//! The SDK's peer connection to the media server, sans-IO: fed datagrams and the time by the
//! call's media task, drained of datagrams and events. It always offers one send-only Opus and one
//! send-only VP8 m-line, whatever the devices do at the time: the media server takes one offer per
//! participant, so a camera started later must find its m-line already there.
//!
//! It is the SDK's own rather than `appel_media::client::MediaClient` (the scenario tests' peer)
//! because an SDK call can last hours: it keeps counters, never the frames, and it reports ICE
//! state changes and keyframe requests, which the tests' peer does not need.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// What the peer connection tells its task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PeerEvent {
    /// ICE and DTLS completed.
    Connected,
    /// The ICE connection state changed (its name as the protocol's `iceState` report says it).
    IceState(&'static str),
    /// The media server asked for a keyframe of the published video.
    KeyframeRequested,
    /// A media frame arrived from `from` (the m-line's stream id: the publisher's participant id).
    Media {
        from: String,
        video: bool,
        bytes: usize,
        packets: u64,
        /// The frame parses as the codec's (an Opus packet, a VP8 frame).
        well_formed: bool,
    },
}

/// A datagram to send.
pub(crate) struct Datagram {
    pub(crate) destination: SocketAddr,
    pub(crate) contents: Vec<u8>,
}

pub(crate) struct Peer {
    rtc: Rtc,
    local: SocketAddr,
    audio: Mid,
    video: Mid,
    pending: Option<SdpPendingOffer>,
    connected: bool,
    out: VecDeque<Datagram>,
    events: VecDeque<PeerEvent>,
    timeout: Instant,
    audio_frames: u64,
    video_frames: u64,
}

/// The media server's SDP could not be used.
#[derive(Debug)]
pub(crate) struct SdpRefused(pub(crate) String);

impl Peer {
    /// A peer connection whose datagrams leave from `local`, with its offer.
    pub(crate) fn new(now: Instant, local: SocketAddr) -> Result<(Self, String), SdpRefused> {
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| SdpRefused(format!("candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        let mut change = rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| SdpRefused("no offer came out of two new m-lines".into()))?;
        let peer = Peer {
            rtc,
            local,
            audio,
            video,
            pending: Some(pending),
            connected: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
            timeout: now,
            audio_frames: 0,
            video_frames: 0,
        };
        Ok((peer, offer.to_sdp_string()))
    }

    /// The media server's answer to the offer of [`Peer::new`].
    pub(crate) fn accept_answer(&mut self, sdp: &str) -> Result<(), SdpRefused> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| SdpRefused(e.to_string()))?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| SdpRefused("no offer of this peer waits".into()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| SdpRefused(e.to_string()))?;
        self.drain();
        Ok(())
    }

    /// A server offer (others' tracks added or stopped); returns the answer.
    pub(crate) fn accept_offer(&mut self, sdp: &str) -> Result<String, SdpRefused> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| SdpRefused(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| SdpRefused(e.to_string()))?;
        self.drain();
        Ok(answer.to_sdp_string())
    }

    pub(crate) fn receive(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) {
        let Ok(contents) = DatagramRecv::try_from(bytes) else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        if self.rtc.accepts(&input) && self.rtc.handle_input(input).is_ok() {
            self.drain();
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.rtc.handle_input(Input::Timeout(now)).is_ok() {
            self.drain();
        }
    }

    pub(crate) fn poll_timeout(&self) -> Instant {
        self.timeout
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected
    }

    /// Writes one 20 ms Opus frame; `false` before the connection is up.
    pub(crate) fn send_audio(&mut self, now: Instant, frame: Vec<u8>) -> bool {
        let time = MediaTime::new(self.audio_frames * 960, Frequency::FORTY_EIGHT_KHZ);
        let written = self.write(self.audio, Codec::Opus, now, time, frame);
        self.audio_frames += u64::from(written);
        written
    }

    /// Writes one VP8 frame, timed at `rate` frames a second.
    pub(crate) fn send_video(&mut self, now: Instant, frame: Vec<u8>, rate: u64) -> bool {
        let time = MediaTime::new(
            self.video_frames * (90_000 / rate.max(1)),
            Frequency::NINETY_KHZ,
        );
        let written = self.write(self.video, Codec::Vp8, now, time, frame);
        self.video_frames += u64::from(written);
        written
    }

    fn write(
        &mut self,
        mid: Mid,
        codec: Codec,
        now: Instant,
        time: MediaTime,
        frame: Vec<u8>,
    ) -> bool {
        if !self.connected {
            return false;
        }
        let Some(writer) = self.rtc.writer(mid) else {
            return false;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
        else {
            return false;
        };
        if writer.write(pt, now, time, frame).is_err() {
            return false;
        }
        self.drain();
        true
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.timeout = at;
                    return;
                }
                Ok(Output::Transmit(t)) => self.out.push_back(Datagram {
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Event(Event::Connected)) => {
                    self.connected = true;
                    self.events.push_back(PeerEvent::Connected);
                }
                Ok(Output::Event(Event::IceConnectionStateChange(state))) => {
                    self.events
                        .push_back(PeerEvent::IceState(ice_state_name(state)));
                }
                Ok(Output::Event(Event::KeyframeRequest(request))) if request.mid == self.video => {
                    self.events.push_back(PeerEvent::KeyframeRequested);
                }
                Ok(Output::Event(Event::MediaData(data))) => {
                    let Some(media) = self.rtc.media(data.mid) else {
                        continue;
                    };
                    let packets = (**data.seq_range.end())
                        .saturating_sub(**data.seq_range.start())
                        .saturating_add(1);
                    let video = media.kind() == MediaKind::Video;
                    let well_formed = if video {
                        crate::media::is_vp8_frame(&data.data)
                    } else {
                        crate::media::is_opus_frame(&data.data)
                    };
                    self.events.push_back(PeerEvent::Media {
                        from: media.stream_id().to_string(),
                        video,
                        bytes: data.data.len(),
                        packets,
                        well_formed,
                    });
                }
                Ok(Output::Event(_)) => {}
                // str0m gives up on this connection; the media server notices the silence and
                // ends the leg (410/301005), which is the outcome the application hears of.
                Err(error) => {
                    tracing::debug!(%error, "media peer connection stopped");
                    return;
                }
            }
        }
    }
}

/// The state's name as in a browser's `iceConnectionState`.
fn ice_state_name(state: IceConnectionState) -> &'static str {
    match state {
        IceConnectionState::New => "new",
        IceConnectionState::Checking => "checking",
        IceConnectionState::Connected => "connected",
        IceConnectionState::Completed => "completed",
        IceConnectionState::Disconnected => "disconnected",
    }
}
