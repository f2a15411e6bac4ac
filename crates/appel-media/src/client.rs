//! A minimal WebRTC client for the core, sans-IO like it: one peer connection that publishes
//! an Opus and a VP8 track and counts what it receives. The core's unit tests and the server's
//! scenario tests drive it; it is the seed of the native SDK's media (docs/architecture.md, "The
//! media plane").

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, Frequency, KeyframeRequestKind, MediaKind, MediaTime, Mid, Simulcast, SimulcastLayer,
};
use str0m::net::{DatagramRecv, Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

use crate::{MediaError, Transmit};

/// One media frame received: who published it (the m-line's stream id, the publisher's
/// participant id), its kind and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The publisher's participant id.
    pub from: String,
    /// Audio or video.
    pub video: bool,
    /// The frame as the publisher wrote it.
    pub data: Vec<u8>,
}

/// A client peer connection (full ICE, the controlling side).
pub struct MediaClient {
    rtc: Rtc,
    local: SocketAddr,
    audio: Option<Mid>,
    video: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    connected: bool,
    transmits: VecDeque<Transmit>,
    received: Vec<Received>,
    keyframe_requests: u64,
    timeout: Instant,
    audio_frames: u64,
    video_frames: u64,
    /// The video m-lines media arrived on, with their publisher.
    receiving: Vec<(Mid, String)>,
    /// The layer each keyframe request that reached this client named (`None`: unlayered).
    keyframe_request_rids: Vec<Option<String>>,
}

impl MediaClient {
    /// A client bound (by its shell) to `local`, with the tracks it publishes; returns it with
    /// its SDP offer.
    pub fn new(now: Instant, local: SocketAddr, audio: bool, video: bool) -> (Self, String) {
        Self::build(now, local, audio, video, &[])
    }

    /// A client that publishes its video in simulcast layers named `rids` (smallest first, as
    /// browsers name them: `q`, `h`, `f`), and audio when `audio`; returns it with its SDP offer.
    /// Its frames go through [`MediaClient::send_video_layers`].
    pub fn new_simulcast(
        now: Instant,
        local: SocketAddr,
        audio: bool,
        rids: &[&str],
    ) -> (Self, String) {
        Self::build(now, local, audio, true, rids)
    }

    fn build(
        now: Instant,
        local: SocketAddr,
        audio: bool,
        video: bool,
        rids: &[&str],
    ) -> (Self, String) {
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        let candidate = Candidate::host(local, "udp").expect("a UDP host candidate is valid");
        rtc.add_local_candidate(candidate);
        let mut change = rtc.sdp_api();
        let audio = audio
            .then(|| change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
        let simulcast = (!rids.is_empty()).then(|| {
            let mut simulcast = Simulcast::new();
            for rid in rids {
                simulcast.add_send_layer(SimulcastLayer::new(rid));
            }
            simulcast
        });
        let video = video.then(|| {
            change.add_media(MediaKind::Video, Direction::SendOnly, None, None, simulcast)
        });
        // A client with nothing to publish still needs one m-line to connect; a receive-only
        // audio line does.
        if audio.is_none() && video.is_none() {
            change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        }
        let (offer, pending) = change.apply().expect("added media always needs an offer");
        let client = MediaClient {
            rtc,
            local,
            audio,
            video,
            pending: Some(pending),
            connected: false,
            transmits: VecDeque::new(),
            received: Vec::new(),
            keyframe_requests: 0,
            timeout: now,
            audio_frames: 0,
            video_frames: 0,
            receiving: Vec::new(),
            keyframe_request_rids: Vec::new(),
        };
        (client, offer.to_sdp_string())
    }

    /// The address the client's datagrams leave from.
    pub fn local_address(&self) -> SocketAddr {
        self.local
    }

    /// The media server's answer to the client's offer.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<(), MediaError> {
        let answer =
            SdpAnswer::from_sdp_string(sdp).map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| MediaError::BadSdp("no offer of this client waits".into()))?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.drain();
        Ok(())
    }

    /// An offer from the media server (others' tracks added or removed); returns the answer.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<String, MediaError> {
        let offer =
            SdpOffer::from_sdp_string(sdp).map_err(|e| MediaError::BadSdp(e.to_string()))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| MediaError::BadSdp(e.to_string()))?;
        self.drain();
        Ok(answer.to_sdp_string())
    }

    /// A datagram for this client.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, bytes: &[u8]) {
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

    /// The time reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.rtc.handle_input(Input::Timeout(now)).is_ok() {
            self.drain();
        }
    }

    /// When [`MediaClient::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Instant {
        self.timeout
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// ICE and DTLS completed.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Every frame received so far.
    pub fn received(&self) -> &[Received] {
        &self.received
    }

    /// How many keyframe requests reached this client's published video.
    pub fn keyframe_requests(&self) -> u64 {
        self.keyframe_requests
    }

    /// How many keyframe requests reached this client's published video for layer `rid` (`None`:
    /// the unlayered video, or a request naming no layer).
    pub fn keyframe_requests_for(&self, rid: Option<&str>) -> u64 {
        self.keyframe_request_rids
            .iter()
            .filter(|r| r.as_deref() == rid)
            .count() as u64
    }

    /// Writes one frame on each simulcast layer named (all of the same picture, at 30 frames a
    /// second), for a client made by [`MediaClient::new_simulcast`]. `false` when there is no
    /// video or the connection is not up yet.
    pub fn send_video_layers(&mut self, now: Instant, layers: &[(&str, &[u8])]) -> bool {
        let Some(mid) = self.video else {
            return false;
        };
        if !self.connected {
            return false;
        }
        let time = MediaTime::new(self.video_frames * 3000, Frequency::NINETY_KHZ);
        for (rid, data) in layers {
            let Some(writer) = self.rtc.writer(mid) else {
                return false;
            };
            let Some(pt) = writer
                .payload_params()
                .find(|p| p.spec().codec == Codec::Vp8)
                .map(|p| p.pt())
            else {
                return false;
            };
            if writer
                .rid((*rid).into())
                .write(pt, now, time, data.to_vec())
                .is_err()
            {
                return false;
            }
        }
        self.video_frames += 1;
        self.drain();
        true
    }

    /// Writes one Opus frame (20 ms of audio). `false` when there is no audio track or the
    /// connection is not up yet.
    pub fn send_audio(&mut self, now: Instant, data: &[u8]) -> bool {
        let time = MediaTime::new(self.audio_frames * 960, Frequency::FORTY_EIGHT_KHZ);
        let written = self.write(self.audio, Codec::Opus, now, time, data);
        self.audio_frames += u64::from(written);
        written
    }

    /// Writes one VP8 frame (at 30 frames a second). The caller's bytes are the frame; a first
    /// byte with its lowest bit clear marks a keyframe.
    pub fn send_video(&mut self, now: Instant, data: &[u8]) -> bool {
        let time = MediaTime::new(self.video_frames * 3000, Frequency::NINETY_KHZ);
        let written = self.write(self.video, Codec::Vp8, now, time, data);
        self.video_frames += u64::from(written);
        written
    }

    fn write(
        &mut self,
        mid: Option<Mid>,
        codec: Codec,
        now: Instant,
        time: MediaTime,
        data: &[u8],
    ) -> bool {
        let Some(mid) = mid else {
            return false;
        };
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
        if writer.write(pt, now, time, data.to_vec()).is_err() {
            return false;
        }
        self.drain();
        true
    }

    /// Asks the media server for a keyframe of the video `from` publishes (what a decoder does
    /// after a loss). `false` when no such video is received yet.
    pub fn request_keyframe(&mut self, from: &str) -> bool {
        let mid = self.received_video_mid(from);
        let Some(mid) = mid else {
            return false;
        };
        let Some(mut writer) = self.rtc.writer(mid) else {
            return false;
        };
        let asked = writer
            .request_keyframe(None, KeyframeRequestKind::Pli)
            .is_ok();
        self.drain();
        asked
    }

    fn received_video_mid(&self, from: &str) -> Option<Mid> {
        self.receiving
            .iter()
            .find(|(_, who)| who == from)
            .map(|(mid, _)| *mid)
    }

    /// Frames received per publisher: (audio, video) counts.
    pub fn counts(&self) -> BTreeMap<String, (usize, usize)> {
        let mut counts = BTreeMap::new();
        for frame in &self.received {
            let entry = counts.entry(frame.from.clone()).or_insert((0, 0));
            if frame.video {
                entry.1 += 1;
            } else {
                entry.0 += 1;
            }
        }
        counts
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.timeout = at;
                    return;
                }
                Ok(Output::Transmit(t)) => self.transmits.push_back(Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.to_vec(),
                }),
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(Event::MediaData(data))) => {
                    let Some(media) = self.rtc.media(data.mid) else {
                        continue;
                    };
                    if media.kind() == MediaKind::Video
                        && !self.receiving.iter().any(|(mid, _)| *mid == data.mid)
                    {
                        self.receiving
                            .push((data.mid, media.stream_id().to_string()));
                    }
                    self.received.push(Received {
                        from: media.stream_id().to_string(),
                        video: media.kind() == MediaKind::Video,
                        data: data.data.to_vec(),
                    });
                }
                Ok(Output::Event(Event::KeyframeRequest(request))) => {
                    self.keyframe_requests += 1;
                    self.keyframe_request_rids
                        .push(request.rid.map(|rid| rid.to_string()));
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        }
    }
}
