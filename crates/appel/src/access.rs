//! Where the command line finds the server and its access key, so that nobody needs curl (or to
//! copy a key by hand) for a first call: the flag, else the environment (`APPEL_SERVER`,
//! `APPEL_ACCESS_KEY`), else a profile file, else what a local `appel serve` uses by default
//! (`http://127.0.0.1:8080`, and the key it generated in `./appel-data/access-key`).

use std::path::{Path, PathBuf};

use appel_codes::{registry, CallingError};

/// The server's address when nothing names one: where `appel serve` listens by default.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// A server and the access key to act on it, and where each came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAccess {
    /// `http(s)://host:port`.
    pub server: String,
    /// The access key.
    pub access_key: String,
    /// Where the key was found: `--access-key`, a profile path, a key file path.
    pub key_source: String,
}

/// The settings a profile file may hold (`server`, `access_key`).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    server: Option<String>,
    access_key: Option<String>,
}

/// The profile file: `APPEL_PROFILE`, else `$XDG_CONFIG_HOME/appel/profile.toml`, else
/// `~/.config/appel/profile.toml`; whether it was named explicitly.
fn profile_path(env: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, bool)> {
    if let Some(path) = env("APPEL_PROFILE") {
        return Some((PathBuf::from(path), true));
    }
    let config = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| Path::new(&home).join(".config")))?;
    Some((config.join("appel/profile.toml"), false))
}

fn invalid(context: String) -> CallingError {
    CallingError::new(&registry::INVALID_ARGUMENT).with_context(context)
}

fn read_profile(env: &dyn Fn(&str) -> Option<String>) -> Result<(Profile, String), CallingError> {
    let Some((path, named)) = profile_path(env) else {
        return Ok((Profile::default(), String::new()));
    };
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map(|profile| (profile, shown.clone()))
            .map_err(|e| {
                invalid(format!(
                    "the profile {shown}: expected `server = \"…\"` and `access_key = \"…\"`"
                ))
                .with_raw_cause(e.to_string())
            }),
        Err(_) if !named => Ok((Profile::default(), shown)),
        Err(e) => Err(invalid(format!(
            "the profile {shown} (APPEL_PROFILE) cannot be read"
        ))
        .with_raw_cause(e.to_string())),
    }
}

/// Finds the server and its key. `server` and `access_key` are the flags (clap has already put
/// `APPEL_SERVER` and `APPEL_ACCESS_KEY` in them when they were absent); `env` reads the rest.
pub fn resolve(
    server: Option<String>,
    access_key: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ServerAccess, CallingError> {
    let (profile, profile_shown) = read_profile(env)?;
    let server = server
        .or(profile.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    if let Some(key) = access_key {
        return Ok(ServerAccess {
            server,
            access_key: key,
            key_source: "--access-key or APPEL_ACCESS_KEY".into(),
        });
    }
    if let Some(key) = profile.access_key {
        return Ok(ServerAccess {
            server,
            access_key: key,
            key_source: profile_shown,
        });
    }
    // A server started here with its defaults wrote its key in its data folder.
    let data = env("APPEL_DATA").unwrap_or_else(|| "./appel-data".into());
    let key_file = Path::new(&data).join("access-key");
    match std::fs::read_to_string(&key_file) {
        Ok(key) if !key.trim().is_empty() => Ok(ServerAccess {
            server,
            access_key: key.trim().to_string(),
            key_source: key_file.display().to_string(),
        }),
        _ => Err(invalid(format!(
            "no access key: give --access-key, set APPEL_ACCESS_KEY, put `access_key = \"…\"` in \
             {}, or run this where `appel serve` keeps its data ({} was not found)",
            if profile_shown.is_empty() {
                "a profile file (APPEL_PROFILE)".to_string()
            } else {
                profile_shown
            },
            key_file.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_flag_then_the_profile_then_the_local_key_file() {
        let dir = tempfile::tempdir().expect("dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::write(data.join("access-key"), "local-key\n").expect("key");
        let profile = dir.path().join("profile.toml");
        std::fs::write(
            &profile,
            "server = \"http://10.0.0.9:9000\"\naccess_key = \"profile-key\"\n",
        )
        .expect("profile");
        let with_profile = env_of(&[
            ("APPEL_PROFILE", profile.display().to_string()),
            ("APPEL_DATA", data.display().to_string()),
        ]);
        let access = resolve(
            Some("http://127.0.0.1:1".into()),
            Some("flag-key".into()),
            &with_profile,
        )
        .expect("access");
        assert_eq!(
            (access.server.as_str(), access.access_key.as_str()),
            ("http://127.0.0.1:1", "flag-key")
        );
        let access = resolve(None, None, &with_profile).expect("access");
        assert_eq!(
            (access.server.as_str(), access.access_key.as_str()),
            ("http://10.0.0.9:9000", "profile-key")
        );
        let local = env_of(&[
            ("HOME", dir.path().join("nohome").display().to_string()),
            ("APPEL_DATA", data.display().to_string()),
        ]);
        let access = resolve(None, None, &local).expect("access");
        assert_eq!(
            (access.server.as_str(), access.access_key.as_str()),
            (DEFAULT_SERVER, "local-key")
        );
    }

    #[test]
    fn a_missing_key_or_a_broken_profile_is_900900_saying_what_to_do() {
        let dir = tempfile::tempdir().expect("dir");
        let nothing = env_of(&[
            ("HOME", dir.path().display().to_string()),
            ("APPEL_DATA", dir.path().join("none").display().to_string()),
        ]);
        let error = resolve(None, None, &nothing).expect_err("no key");
        assert!(error.is(&registry::INVALID_ARGUMENT));
        assert!(error.to_string().contains("APPEL_ACCESS_KEY"), "{error}");
        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "access_key = 7\n").expect("write");
        let error = resolve(
            None,
            None,
            &env_of(&[("APPEL_PROFILE", broken.display().to_string())]),
        )
        .expect_err("broken");
        assert!(error.to_string().contains("broken.toml"), "{error}");
        let missing = env_of(&[(
            "APPEL_PROFILE",
            dir.path().join("absent.toml").display().to_string(),
        )]);
        assert!(
            resolve(None, None, &missing).is_err(),
            "a named profile must exist"
        );
    }
}
