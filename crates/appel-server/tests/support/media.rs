//! A native media peer for scenario tests: `appel-media`'s str0m client on a real loopback UDP
//! socket, driven by its own task. It publishes an Opus and a VP8 track (generated frames naming
//! the peer, 50 a second each) and counts what it receives per publisher. Its UDP can be cut in
//! both directions while its signaling connection stays up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appel_media::client::MediaClient;
use appel_protocol::{CallId, ClientFrame, ServerFrame};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::Client;
use appel_codes::CallingError;

/// How often a sending peer writes a frame of each kind.
const FRAME_INTERVAL: Duration = Duration::from_millis(20);

pub struct MediaPeer {
    pub name: String,
    client: Arc<Mutex<MediaClient>>,
    cut: Arc<AtomicBool>,
    kick: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl MediaPeer {
    /// Binds a loopback socket and prepares the offer (one audio and one video track).
    pub async fn new(name: &str) -> (MediaPeer, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
        let local: SocketAddr = socket.local_addr().expect("local address");
        let (client, offer) = MediaClient::new(Instant::now(), local, true, true);
        let client = Arc::new(Mutex::new(client));
        let cut = Arc::new(AtomicBool::new(false));
        let kick = Arc::new(Notify::new());
        let task = tokio::spawn(drive(
            socket,
            Arc::clone(&client),
            Arc::clone(&cut),
            Arc::clone(&kick),
            name.to_string(),
        ));
        let peer = MediaPeer {
            name: name.into(),
            client,
            cut,
            kick,
            task,
        };
        (peer, offer)
    }

    pub fn accept_answer(&self, sdp: &str) {
        self.client
            .lock()
            .unwrap()
            .accept_answer(sdp)
            .expect("the media server's answer is accepted");
        self.kick.notify_one();
    }

    pub fn accept_offer(&self, sdp: &str) -> String {
        let answer = self
            .client
            .lock()
            .unwrap()
            .accept_offer(sdp)
            .expect("the media server's offer is accepted");
        self.kick.notify_one();
        answer
    }

    pub fn is_connected(&self) -> bool {
        self.client.lock().unwrap().is_connected()
    }

    /// Frames received per publisher: (audio, video).
    pub fn counts(&self) -> BTreeMap<String, (usize, usize)> {
        self.client.lock().unwrap().counts()
    }

    /// From now on nothing it sends leaves, and nothing sent to it arrives.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Drop for MediaPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn drive(
    socket: UdpSocket,
    client: Arc<Mutex<MediaClient>>,
    cut: Arc<AtomicBool>,
    kick: Arc<Notify>,
    name: String,
) {
    let mut buf = vec![0u8; 2048];
    let mut next_frame = Instant::now();
    let mut round = 0u64;
    loop {
        let wake = client.lock().unwrap().poll_timeout().min(next_frame);
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    if !cut.load(Ordering::SeqCst) {
                        client.lock().unwrap().receive(Instant::now(), source, &buf[..n]);
                    }
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                let now = Instant::now();
                let mut client = client.lock().unwrap();
                client.handle_timeout(now);
                if now >= next_frame {
                    next_frame = now + FRAME_INTERVAL;
                    if client.is_connected() {
                        client.send_audio(now, format!("a:{name}:{round}").as_bytes());
                        // A first byte with its lowest bit clear: a keyframe.
                        let mut frame = vec![0x10];
                        frame.extend_from_slice(format!("v:{name}:{round}").as_bytes());
                        client.send_video(now, &frame);
                        round += 1;
                    }
                }
            }
            () = kick.notified() => {}
        }
        let outgoing: Vec<_> = {
            let mut client = client.lock().unwrap();
            std::iter::from_fn(|| client.poll_transmit()).collect()
        };
        if cut.load(Ordering::SeqCst) {
            continue;
        }
        for t in outgoing {
            let _ = socket.send_to(&t.contents, t.destination).await;
        }
    }
}

/// Sends `mediaOffer` for `call` and waits for the media server's answer (or the refusal).
pub async fn offer(
    client: &mut Client,
    call: &CallId,
    sdp: String,
) -> Result<String, CallingError> {
    let request_id = client.request_id();
    client
        .send(ClientFrame::MediaOffer {
            request_id,
            call_id: call.clone(),
            sdp,
        })
        .await;
    client
        .answer(request_id, "mediaAnswer or error", |f| match f {
            ServerFrame::MediaAnswer {
                request_id: r, sdp, ..
            } if *r == request_id => Some(sdp.clone()),
            _ => None,
        })
        .await
}

/// Answers every `mediaOffer` the server sent so far (after a ping round trip, so none sent
/// before is missed); the other frames stay in the backlog, in order.
pub async fn answer_offers(client: &mut Client, peer: &MediaPeer) -> usize {
    let frames = client.drain().await;
    let mut answered = 0;
    let mut kept = Vec::new();
    for frame in frames {
        match frame {
            ServerFrame::MediaOffer { call_id, sdp } => {
                let answer = peer.accept_offer(&sdp);
                client
                    .send(ClientFrame::MediaAnswer {
                        call_id,
                        sdp: answer,
                    })
                    .await;
                answered += 1;
            }
            other => kept.push(other),
        }
    }
    client.restore_backlog(kept);
    answered
}

/// Every peer got at least `at_least` audio and video frames from each other peer.
pub fn hears_everyone_else(peers: &[MediaPeer], at_least: usize) -> bool {
    peers.iter().all(|peer| {
        let counts = peer.counts();
        peers
            .iter()
            .filter(|other| other.name != peer.name)
            .all(|other| {
                counts
                    .get(&other.name)
                    .is_some_and(|(audio, video)| *audio >= at_least && *video >= at_least)
            })
    })
}

/// No client was told that anyone left or that its call ended.
pub async fn assert_nobody_left(clients: &mut [Client]) {
    for client in clients {
        let frames = client.drain().await;
        assert!(
            !frames.iter().any(|f| matches!(
                f,
                ServerFrame::ParticipantLeft { .. } | ServerFrame::CallEnded { .. }
            )),
            "{frames:?}"
        );
    }
}

/// A test's media peer, which answers the server's renegotiations for its client.
pub trait AnswersOffers {
    /// Answers every `mediaOffer` `client` got so far.
    async fn answer_offers(&self, client: &mut Client);
}

impl AnswersOffers for MediaPeer {
    async fn answer_offers(&self, client: &mut Client) {
        answer_offers(client, self).await;
    }
}

/// Answers the server's offers until `done` holds, for at most `limit`; whether it held.
pub async fn serve_until<P: AnswersOffers>(
    clients: &mut [Client],
    peers: &[P],
    limit: Duration,
    done: impl Fn(&[P]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        for (client, peer) in clients.iter_mut().zip(peers) {
            peer.answer_offers(client).await;
        }
        if done(peers) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
