//! `docker search`: the registry's v1 search endpoint
//! (`GET /v1/search?q=TERM&n=LIMIT`), as dockerd asks it (moby
//! `registry/search.go`). Docker Hub answers it at `index.docker.io`;
//! distribution's registry has none, and says 404, which Docker reports as
//! `Unexpected status code 404`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, StatusCode, Uri};
use serde::Deserialize;

use crate::auth::Credentials;
use store::reference::DEFAULT_DOMAIN;

use crate::endpoint::{Config, Scheme};
use crate::error::RegistryError;
use crate::transport::{self, Tls};

/// Largest search answer read (100 results of a few hundred bytes).
pub const MAX_SEARCH_ANSWER: u64 = 1 << 20;

/// Where Docker Hub answers searches.
pub const DOCKER_INDEX_HOST: &str = "index.docker.io";

/// One search result, as the v1 API and Docker's `/images/search` give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct SearchResult {
    /// `name` or `namespace/name`.
    #[serde(default)]
    pub name: String,
    /// One line about it.
    #[serde(default)]
    pub description: String,
    /// Stars on the index.
    #[serde(default)]
    pub star_count: i64,
    /// An official image.
    #[serde(default)]
    pub is_official: bool,
    /// Built automatically (deprecated, always false on Docker Hub now).
    #[serde(default)]
    pub is_automated: bool,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<SearchResult>,
}

/// Splits a search term into the index's domain and the term the index is
/// asked (moby's `ParseSearchIndexInfo`): `host:5000/name` asks
/// `host:5000` for `name`; a term without a host asks Docker Hub.
pub fn split_term(term: &str) -> (String, String) {
    match term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), term.to_string()),
    }
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Asks `domain`'s index for `term`, at most `limit` results; each of the
/// endpoint's schemes in turn while the connection fails.
pub async fn search(
    config: &Config,
    domain: &str,
    term: &str,
    limit: u32,
    credentials: &Credentials,
) -> Result<Vec<SearchResult>, RegistryError> {
    let mut endpoint = config.endpoint_of(domain);
    if endpoint.domain == DEFAULT_DOMAIN {
        endpoint.host = DOCKER_INDEX_HOST.to_string();
    }
    let mut last = None;
    for scheme in &endpoint.schemes {
        let (base, tls) = match scheme {
            Scheme::Https => (
                format!("https://{}", endpoint.host),
                Tls::Verify(endpoint.ca_files.clone()),
            ),
            Scheme::HttpsUnverified => (format!("https://{}", endpoint.host), Tls::Unverified),
            Scheme::Http => (format!("http://{}", endpoint.host), Tls::Unverified),
        };
        let url: Uri = format!("{base}/v1/search?q={}&n={limit}", encode(term))
            .parse()
            .map_err(|e| RegistryError::Invalid(format!("search {}: {e}", endpoint.host)))?;
        let mut req = Request::get(url).header("User-Agent", crate::USER_AGENT);
        if !credentials.username.is_empty() {
            req = req.header("Authorization", credentials.basic());
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let resp = match transport::send(req, &tls).await {
            Ok(r) => r,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        let status = resp.status();
        if status != StatusCode::OK {
            return Err(RegistryError::Status {
                status: status.as_u16(),
                code: String::new(),
                message: format!("Unexpected status code {}", status.as_u16()),
            });
        }
        let body = transport::read_body(resp, MAX_SEARCH_ANSWER, "search answer").await?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Invalid(format!("search answer: {e}")))?;
        return Ok(answer.results);
    }
    Err(last.unwrap_or_else(|| RegistryError::Invalid("no endpoint to try".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_name_their_index() {
        for (term, want) in [
            ("alpine", ("docker.io", "alpine")),
            ("library/alpine", ("docker.io", "library/alpine")),
            ("127.0.0.1:5000/bb", ("127.0.0.1:5000", "bb")),
            ("localhost/x/y", ("localhost", "x/y")),
            ("reg.example/team/app", ("reg.example", "team/app")),
        ] {
            let (d, t) = split_term(term);
            assert_eq!((d.as_str(), t.as_str()), want, "{term}");
        }
    }
}
