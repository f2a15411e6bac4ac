//! `appel bench udp`: the raw loopback UDP datagram rate of this machine and what one datagram
//! costs in CPU (a `sendto` plus its `recvfrom`), the baseline `appel bench media` is compared
//! with. Media servers spend most of their time moving datagrams, so "how many forwarded packets
//! per CPU-second, next to how many bare datagrams per CPU-second" says how much the SFU adds.
//!
//! `pairs` tasks each own a sending and a receiving socket and move `BURST` datagrams of `size`
//! bytes at a time, then read them back, so the kernel's socket buffer never overflows and the
//! loop measures the system calls rather than drops.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};
use serde::Serialize;
use tokio::net::UdpSocket;

/// Datagrams sent before reading them back.
const BURST: usize = 32;
/// Most pairs one run may use.
pub const MAX_PAIRS: usize = 64;
/// Longest run.
pub const MAX_DURATION: Duration = Duration::from_secs(120);

/// What `appel bench udp` was asked.
#[derive(Clone, Debug)]
pub struct UdpSettings {
    /// Sender/receiver socket pairs, one task each.
    pub pairs: usize,
    /// Bytes per datagram.
    pub size: usize,
    /// How long to measure.
    pub duration: Duration,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpReport {
    /// Datagrams received per second of wall time.
    pub datagrams_per_second: f64,
    /// Datagrams moved per second of this process's CPU time (send and receive both counted
    /// here): the raw rate one core reaches.
    pub datagrams_per_cpu_second: f64,
    /// CPU time of this process per datagram, in microseconds.
    pub cpu_us_per_datagram: f64,
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent that never arrived.
    pub lost: u64,
    /// Bytes per datagram.
    pub size: usize,
    /// Seconds measured.
    pub elapsed: f64,
}

impl UdpReport {
    /// The table printed without `--json`.
    pub fn table(&self) -> String {
        format!(
            "raw loopback UDP       {:.0} datagrams/s of {} bytes ({} received, {} lost in {:.2} s)\nper CPU-second         {:.0} datagrams ({:.2} µs each, sendto + recvfrom)\n",
            self.datagrams_per_second,
            self.size,
            self.received,
            self.lost,
            self.elapsed,
            self.datagrams_per_cpu_second,
            self.cpu_us_per_datagram
        )
    }
}

fn io_error(what: &str, e: std::io::Error) -> CallingError {
    CallingError::new(&registry::INTERNAL_SERVER_ERROR)
        .with_context(format!("udp baseline: {what}"))
        .with_raw_cause(e.to_string())
}

/// Runs the measurement.
pub async fn run(settings: UdpSettings) -> Result<UdpReport, CallingError> {
    super::within("--pairs", settings.pairs, 1, MAX_PAIRS)?;
    super::within("--size", settings.size, 16, 1_472)?;
    if settings.duration.is_zero() || settings.duration > MAX_DURATION {
        return Err(
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "--duration must be above 0 and at most {MAX_DURATION:?}"
            )),
        );
    }
    let mut sockets = Vec::with_capacity(settings.pairs);
    for _ in 0..settings.pairs {
        let sender = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| io_error("bind", e))?;
        let receiver = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| io_error("bind", e))?;
        let to = receiver
            .local_addr()
            .map_err(|e| io_error("local address", e))?;
        sockets.push((sender, receiver, to));
    }
    let cpu_before = super::media::cpu_seconds(std::process::id())?;
    let started = Instant::now();
    let deadline = started + settings.duration;
    let tasks: Vec<_> = sockets
        .into_iter()
        .map(|(sender, receiver, to)| {
            tokio::spawn(pair(sender, receiver, to, settings.size, deadline))
        })
        .collect();
    let (mut received, mut lost) = (0, 0);
    for task in tasks {
        let (r, l) = task
            .await
            .map_err(|e| io_error("task", std::io::Error::other(e.to_string())))??;
        received += r;
        lost += l;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = super::media::cpu_seconds(std::process::id())? - cpu_before;
    Ok(UdpReport {
        datagrams_per_second: received as f64 / elapsed,
        datagrams_per_cpu_second: if cpu > 0.0 {
            received as f64 / cpu
        } else {
            0.0
        },
        cpu_us_per_datagram: if received > 0 {
            cpu * 1e6 / received as f64
        } else {
            0.0
        },
        received,
        lost,
        size: settings.size,
        elapsed,
    })
}

async fn pair(
    sender: UdpSocket,
    receiver: UdpSocket,
    to: SocketAddr,
    size: usize,
    deadline: Instant,
) -> Result<(u64, u64), CallingError> {
    let payload = vec![0x80u8; size];
    let mut buf = vec![0u8; 2048];
    let (mut received, mut lost) = (0u64, 0u64);
    while Instant::now() < deadline {
        for _ in 0..BURST {
            sender
                .send_to(&payload, to)
                .await
                .map_err(|e| io_error("send", e))?;
        }
        let mut got = 0;
        while got < BURST {
            match tokio::time::timeout(Duration::from_millis(100), receiver.recv_from(&mut buf))
                .await
            {
                Ok(Ok(_)) => got += 1,
                Ok(Err(e)) => return Err(io_error("receive", e)),
                Err(_) => break,
            }
        }
        received += got as u64;
        lost += (BURST - got) as u64;
    }
    Ok((received, lost))
}
