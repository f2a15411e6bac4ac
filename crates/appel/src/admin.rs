//! `appel identities` and `appel token`: what an operator does with the access key, printed for
//! people (tables, one line per thing) or, with `--json`, for scripts.

use appel_codes::CallingError;

use crate::access::ServerAccess;
use crate::rest::{Identity, RestClient};

fn client(access: &ServerAccess) -> Result<RestClient, CallingError> {
    RestClient::new(&access.server, &access.access_key)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn describe(identity: &Identity) -> String {
    match &identity.display_name {
        Some(name) => format!("{} ({name})", identity.id),
        None => identity.id.clone(),
    }
}

/// `appel identities create [--name NAME]`: the new id (and name), or the identity as JSON.
pub async fn create(
    access: &ServerAccess,
    name: Option<&str>,
    as_json: bool,
) -> Result<String, CallingError> {
    let identity = client(access)?.create_named_identity(name).await?;
    Ok(if as_json {
        json(&identity)
    } else {
        format!("created identity {}", describe(&identity))
    })
}

/// `appel identities list [--name PREFIX]`: every matching identity, page after page, as a
/// table (id, name, presence, created) or a JSON array.
pub async fn list(
    access: &ServerAccess,
    name: Option<&str>,
    limit: usize,
    as_json: bool,
) -> Result<String, CallingError> {
    let rest = client(access)?;
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    while all.len() < limit {
        let page = rest
            .identities(name, after.as_deref(), (limit - all.len()).min(200))
            .await?;
        all.extend(page.identities);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if as_json {
        return Ok(json(&all));
    }
    if all.is_empty() {
        return Ok("no identities".to_string());
    }
    let name_width = all
        .iter()
        .map(|i| i.display_name.as_deref().unwrap_or("-").chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<36}  {:<name_width$}  {:<8}  CREATED",
        "ID", "NAME", "PRESENCE"
    );
    for identity in &all {
        out.push_str(&format!(
            "\n{:<36}  {:<name_width$}  {:<8}  {}",
            identity.id,
            identity.display_name.as_deref().unwrap_or("-"),
            identity.presence,
            identity.created_at
        ));
    }
    Ok(out)
}

/// `appel identities rename ID --name NAME`.
pub async fn rename(access: &ServerAccess, id: &str, name: &str) -> Result<String, CallingError> {
    let identity = client(access)?.rename_identity(id, name).await?;
    Ok(format!("renamed identity {}", describe(&identity)))
}

/// `appel identities delete ID`: its live connections are closed with 401/10009.
pub async fn delete(access: &ServerAccess, id: &str) -> Result<String, CallingError> {
    client(access)?.delete_identity(id).await?;
    Ok(format!("deleted identity {id}"))
}

/// `appel token issue ID [--minutes N]`: the token alone (so `TOKEN=$(appel token issue ID)`
/// works), or token and expiry as JSON.
pub async fn issue(
    access: &ServerAccess,
    id: &str,
    minutes: Option<u32>,
    as_json: bool,
) -> Result<String, CallingError> {
    let issued = client(access)?.issue_token_for(id, minutes).await?;
    Ok(if as_json { json(&issued) } else { issued.token })
}

/// `appel token revoke ID`: every token of the identity issued so far stops working.
pub async fn revoke(access: &ServerAccess, id: &str) -> Result<String, CallingError> {
    client(access)?.revoke_tokens(id).await?;
    Ok(format!("revoked every token of {id} issued so far"))
}
