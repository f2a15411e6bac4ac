//! `appel bench`: load tools against a server on this machine.
//!
//! - [`calls`]: call cycles (start → ringing → accept → connected → hang-up) between real SDK agents.
//! - [`agents`]: many connected idle agents, and the server's memory per agent.
//! - [`echo`]: the raw loopback WebSocket message rate against `ws-echo`, the baseline.
//! - [`media`]: publishers and subscribers in group calls through the media server: forwarded
//!   packets, loss, the server's CPU per stream (streams per core) and memory per stream.
//! - [`udp`]: the raw loopback UDP datagram rate and CPU per datagram, `media`'s baseline.
//! - [`wire`]: a lean protocol client (no SDK) for idle agents and for counting a cycle's frames.
//!
//! Every tool refuses a server that is not on a loopback address (400/900800): it is meant to load
//! a server you started yourself, never someone else's. Each is bounded in count and time.

pub mod agents;
pub mod calls;
pub mod echo;
pub mod media;
pub mod udp;
pub mod wire;

use std::net::SocketAddr;

use appel_codes::{registry, CallingError};

/// The loopback address the server named by `server` (`http://…`, `ws://…`) resolves to; 900800
/// when any address it resolves to is not loopback.
pub async fn loopback_target(server: &str) -> Result<SocketAddr, CallingError> {
    let base = crate::rest::http_base(server)?;
    let authority = base
        .split_once("://")
        .map(|(_, authority)| authority)
        .unwrap_or_default();
    let authority = if authority.rsplit_once(':').is_some_and(|(_, port)| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !port.contains(']')
    }) {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host(&authority)
        .await
        .map_err(|e| {
            CallingError::new(&registry::INVALID_ARGUMENT)
                .with_context(format!("--server `{server}`: cannot resolve `{authority}`"))
                .with_raw_cause(e.to_string())
        })?
        .collect();
    let Some(first) = addresses.first() else {
        return Err(CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("--server `{server}`: `{authority}` has no address")));
    };
    if let Some(remote) = addresses.iter().find(|a| !a.ip().is_loopback()) {
        return Err(CallingError::new(&registry::BENCH_TARGET_NOT_LOOPBACK)
            .with_context(format!("--server `{server}` resolves to {remote}")));
    }
    Ok(*first)
}

/// Raises the soft limit of open files to the hard limit (and the hard limit too when allowed, as
/// root), since every agent holds a socket. Gives the soft limit now in force.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        let wanted = libc::rlimit {
            rlim_cur: 1_048_576,
            rlim_max: 1_048_576,
        };
        if wanted.rlim_max > limit.rlim_max && libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
            return wanted.rlim_cur;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
    }
    limit.rlim_cur
}

/// A bound checked on a command-line number: 900900 naming the flag otherwise.
pub fn within<T: PartialOrd + std::fmt::Display + Copy>(
    flag: &str,
    value: T,
    min: T,
    max: T,
) -> Result<T, CallingError> {
    if value < min || value > max {
        return Err(CallingError::new(&registry::INVALID_ARGUMENT)
            .with_context(format!("{flag} {value}: must be between {min} and {max}")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_names_pass_and_others_give_900800() {
        let ok = loopback_target("http://127.0.0.1:9").await.unwrap();
        assert!(ok.ip().is_loopback());
        assert_eq!(ok.port(), 9);
        assert!(loopback_target("ws://[::1]:9/signaling").await.is_ok());
        assert!(loopback_target("http://127.0.0.3").await.is_ok());
        let error = loopback_target("http://192.0.2.1:8080").await.unwrap_err();
        assert!(error.is(&registry::BENCH_TARGET_NOT_LOOPBACK));
        let error = loopback_target("nonsense").await.unwrap_err();
        assert!(error.is(&registry::INVALID_ARGUMENT));
    }

    #[test]
    fn bounds_name_the_flag() {
        assert_eq!(within("--callers", 5, 1, 10).unwrap(), 5);
        let error = within("--callers", 0, 1, 10).unwrap_err();
        assert!(error.context().unwrap_or_default().contains("--callers"));
    }
}
