//! `appel bench agents`: many connected, idle agents; the server's resident memory per agent and
//! the connect rate.
//!
//! Agents are lean protocol clients ([`WireClient`]) so that the load tool itself stays small and
//! can bind its source address: one 127.x address gives about 28,000 ephemeral ports towards one
//! server port, so the tool moves to the next 127.0.0.x address every [`PER_SOURCE`] connections,
//! and earlier when the system says the address is out of ports. Each run starts at an address
//! picked from the clock: the agents of an earlier run leave their ports in TIME_WAIT for a minute,
//! and a `connect` on an address crowded with them searches the port range for a free one (seen:
//! 5,000 agents at 3,846/s, then 7,000 at 212/s, with 21,593 sockets in TIME_WAIT).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use appel_codes::{registry, CallingError};
use futures_util::{stream, StreamExt};
use indicatif::ProgressBar;
use serde::Serialize;

use super::calls::provision;
use super::wire::WireClient;
use crate::rest::RestClient;

/// Most agents one run may connect.
pub const MAX_AGENTS: usize = 200_000;
/// Connections per source address before moving to the next: well under the ~28,000 ports, so
/// `connect` finds a free port at once.
pub const PER_SOURCE: usize = 5_000;
/// Agents signed in with one identity (each its own endpoint), to keep REST provisioning short.
pub const AGENTS_PER_IDENTITY: usize = 10;
/// Connections being opened at once.
const OPENING_AT_ONCE: usize = 64;
/// The longest a run may take to connect every agent.
pub const CONNECT_BUDGET: Duration = Duration::from_secs(600);

/// What `appel bench agents` was asked.
#[derive(Clone, Debug)]
pub struct AgentsSettings {
    /// The server (loopback only).
    pub server: String,
    /// Its access key.
    pub access_key: String,
    /// How many agents.
    pub count: usize,
    /// The server's process id; found from its listening socket when absent.
    pub server_pid: Option<u32>,
    /// Show a progress bar.
    pub progress: bool,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentsReport {
    /// Agents asked for.
    pub requested: usize,
    /// Agents signed in.
    pub connected: usize,
    /// Signed-in agents per second while connecting.
    pub connect_rate: f64,
    /// The server's resident memory before, in KiB.
    pub rss_before_kib: u64,
    /// The server's resident memory with every agent connected, in KiB.
    pub rss_after_kib: u64,
    /// (after − before) ÷ connected, in bytes.
    pub rss_per_agent_bytes: f64,
    /// Source addresses used.
    pub source_addresses: usize,
    /// The first failure, when some agents did not connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl AgentsReport {
    /// The table printed without `--json`.
    pub fn table(&self) -> String {
        let mut out = format!(
            "agents connected       {} of {}\nconnect rate           {:.0} agents/s\nserver RSS             {} KiB -> {} KiB\nRSS per agent          {:.0} bytes ({:.2} KiB)\nsource addresses       {}\n",
            self.connected,
            self.requested,
            self.connect_rate,
            self.rss_before_kib,
            self.rss_after_kib,
            self.rss_per_agent_bytes,
            self.rss_per_agent_bytes / 1024.0,
            self.source_addresses
        );
        if let Some(error) = &self.first_error {
            out.push_str(&format!("first error            {error}\n"));
        }
        out
    }
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, CallingError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| {
        CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("cannot read /proc/{pid}/status"))
            .with_raw_cause(e.to_string())
    })?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| {
            CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context(format!("no VmRSS in /proc/{pid}/status"))
        })
}

/// The process listening on `addr`: the inode of its socket from /proc/net/tcp(6), then the process
/// holding that inode among /proc/*/fd.
pub fn listening_pid(addr: SocketAddr) -> Option<u32> {
    let inode = listening_inode(addr)?;
    let wanted = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == wanted) {
                return Some(pid);
            }
        }
    }
    None
}

fn listening_inode(addr: SocketAddr) -> Option<u64> {
    const LISTEN: &str = "0A";
    let port = format!("{:04X}", addr.port());
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9
                && fields[3] == LISTEN
                && fields[1].rsplit_once(':').is_some_and(|(_, p)| p == port)
            {
                return fields[9].parse().ok();
            }
        }
    }
    None
}

/// The `index`-th source address: 127.0.0.1, 127.0.0.2, …
fn source(index: usize) -> IpAddr {
    let n = u8::try_from(index % 250 + 1).unwrap_or(1);
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Where this run starts among the 250 source addresses: from the clock, so back-to-back runs use
/// different addresses (see the module's documentation).
fn first_source() -> usize {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    usize::try_from(nanos).unwrap_or(0) % 250
}

/// Connects the agents, measures, then lets them go.
pub async fn run(settings: AgentsSettings) -> Result<AgentsReport, CallingError> {
    super::within("--count", settings.count, 1, MAX_AGENTS)?;
    let target = super::loopback_target(&settings.server).await?;
    let limit = super::raise_open_files_limit();
    if (limit as usize) < settings.count + 64 {
        return Err(CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
            "--count {}: this process may open only {limit} files; raise the hard limit (ulimit -Hn)",
            settings.count
        )));
    }
    let pid = settings
        .server_pid
        .or_else(|| listening_pid(target))
        .ok_or_else(|| {
            CallingError::new(&registry::INVALID_ARGUMENT).with_context(format!(
                "no process of this machine listens on {target}; give --server-pid"
            ))
        })?;
    let rest = RestClient::new(&settings.server, &settings.access_key)?;
    let identities = provision(&rest, settings.count.div_ceil(AGENTS_PER_IDENTITY), 16).await?;
    let rss_before = rss_kib(pid)?;

    let bar = if settings.progress {
        ProgressBar::new(settings.count as u64)
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let mut sources_used = 1;
    // Shared with the stream that opens connections, which reads it for each new agent.
    let start = first_source();
    let source_offset = std::sync::atomic::AtomicUsize::new(start);
    let mut first_error: Option<String> = None;
    let mut idle = Vec::with_capacity(settings.count);
    let mut opening = stream::iter(0..settings.count)
        .map(|i| {
            let (_, token) = &identities[i / AGENTS_PER_IDENTITY];
            let token = token.clone();
            let from = source(i / PER_SOURCE + source_offset.load(Ordering::Relaxed));
            async move {
                (
                    i,
                    WireClient::sign_in(target, Some(from), &token, format!("bench-{i}")).await,
                )
            }
        })
        .buffer_unordered(OPENING_AT_ONCE);
    while let Some((i, outcome)) = tokio::time::timeout_at(
        tokio::time::Instant::from_std(started + CONNECT_BUDGET),
        opening.next(),
    )
    .await
    .ok()
    .flatten()
    {
        match outcome {
            Ok(client) => {
                idle.push(tokio::spawn(client.idle()));
                bar.inc(1);
            }
            Err(error) => {
                // Out of ports on this source address: later agents start from the next one.
                if error
                    .raw_cause()
                    .is_some_and(|c| c.contains("Cannot assign requested address"))
                {
                    source_offset.fetch_add(1, Ordering::Relaxed);
                }
                if first_error.is_none() {
                    first_error = Some(format!("agent {i}: {error}"));
                }
            }
        }
        sources_used =
            sources_used.max(i / PER_SOURCE + source_offset.load(Ordering::Relaxed) - start + 1);
    }
    drop(opening);
    let elapsed = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    // Let the server settle (buffers it allocated for the handshakes) before reading its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib(pid)?;
    let connected = idle.len();
    for task in idle {
        task.abort();
    }
    Ok(AgentsReport {
        requested: settings.count,
        connected,
        connect_rate: if elapsed > 0.0 {
            connected as f64 / elapsed
        } else {
            0.0
        },
        rss_before_kib: rss_before,
        rss_after_kib: rss_after,
        rss_per_agent_bytes: if connected > 0 {
            (rss_after.saturating_sub(rss_before) * 1024) as f64 / connected as f64
        } else {
            0.0
        },
        source_addresses: sources_used.min(250),
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        assert!(rss_kib(u32::MAX).is_err());
    }

    #[test]
    fn a_listening_socket_leads_to_its_process() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(listening_pid(addr), Some(std::process::id()));
    }

    #[test]
    fn source_addresses_stay_in_127_0_0_x() {
        assert_eq!(source(0), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(source(4), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)));
        assert!(source(1000).is_loopback());
    }
}
