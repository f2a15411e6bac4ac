//! The server's access key: the secret an application backend uses to manage identities and tokens.
//!
//! Taken from `APPEL_ACCESS_KEY` when set; otherwise read from `DATA/access-key`, which the first
//! start generates (mode 0600) and announces once.

use std::io::Write;
use std::path::Path;

use appel_codes::{registry, CallingError};

/// File of the generated key inside the data folder.
pub const ACCESS_KEY_FILE: &str = "access-key";

/// Where the key in use came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessKeyOrigin {
    /// The configuration (`APPEL_ACCESS_KEY`).
    Configured,
    /// The key file written by an earlier start.
    Stored,
    /// Generated now, on the first start with this data folder.
    Generated,
}

/// The key to use, and where it came from.
pub fn resolve(
    configured: Option<&str>,
    data_dir: &Path,
) -> Result<(String, AccessKeyOrigin), CallingError> {
    if let Some(key) = configured {
        return Ok((key.to_string(), AccessKeyOrigin::Configured));
    }
    let path = data_dir.join(ACCESS_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((text.trim().to_string(), AccessKeyOrigin::Stored))
        }
        Ok(_) => {
            return Err(key_file_error(&path, "the file is empty"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(key_file_error(&path, e)),
    }
    let key = generate()?;
    std::fs::create_dir_all(data_dir).map_err(|e| key_file_error(data_dir, e))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).map_err(|e| key_file_error(&path, e))?;
    writeln!(file, "{key}").map_err(|e| key_file_error(&path, e))?;
    Ok((key, AccessKeyOrigin::Generated))
}

/// Compares two keys in time independent of where they differ.
pub fn matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn generate() -> Result<String, CallingError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        CallingError::new(&registry::INTERNAL_SERVER_ERROR)
            .with_context("generating the access key")
            .with_raw_cause(e.to_string())
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn key_file_error(path: &Path, cause: impl std::fmt::Display) -> CallingError {
    CallingError::new(&registry::INTERNAL_SERVER_ERROR)
        .with_context(format!("access key file {}", path.display()))
        .with_raw_cause(cause.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_private_and_reused() {
        let dir = tempfile::tempdir().expect("dir");
        let (key, origin) = resolve(None, dir.path()).expect("first");
        assert_eq!(origin, AccessKeyOrigin::Generated);
        assert_eq!(key.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ACCESS_KEY_FILE))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = resolve(None, dir.path()).expect("second");
        assert_eq!(
            (again.as_str(), origin),
            (key.as_str(), AccessKeyOrigin::Stored)
        );
        let (configured, origin) = resolve(Some("mine"), dir.path()).expect("configured");
        assert_eq!(
            (configured.as_str(), origin),
            ("mine", AccessKeyOrigin::Configured)
        );
    }

    #[test]
    fn keys_match_only_when_equal() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abd"));
        assert!(!matches("abc", "abcd"));
    }
}
