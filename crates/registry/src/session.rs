//! A conversation with one registry about one repository: the `/v2/` check,
//! authentication, manifests and blobs, redirects followed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, Uri};
use sha2::{Digest as _, Sha256};

use crate::auth::{parse_challenge, Challenge, Credentials, TokenAnswer, MAX_TOKEN_ANSWER};
use crate::endpoint::{Endpoint, Scheme};
use crate::error::RegistryError;
use crate::manifest::{self, Descriptor, Parsed, Platform, MAX_MANIFEST};
use crate::transport::{self, read_body, resolve_location, Tls, STALL_TIMEOUT};

/// Most redirects followed for one request (blobs often redirect once, to
/// a CDN).
pub const MAX_REDIRECTS: usize = 5;
/// Largest error document read from a registry.
const MAX_ERROR_BODY: u64 = 64 << 10;
/// Largest image config fetched (the store's own bound).
pub const MAX_CONFIG: u64 = store::store::MAX_CONFIG;

/// Tokens by realm, service, scope and account, with when they expire.
pub type TokenCache = Arc<Mutex<HashMap<String, (String, Instant)>>>;

/// A session with one registry, for one repository. Cheap to clone: layer
/// downloads each take a clone. Its `Debug` shows no credentials or tokens.
#[derive(Clone)]
pub struct Session {
    pub(crate) endpoint: Endpoint,
    /// `https://host` or `http://host`, as the `/v2/` check found.
    pub(crate) base: String,
    tls: Tls,
    pub(crate) credentials: Credentials,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) repository: String,
    tokens: TokenCache,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("base", &self.base)
            .field("repository", &self.repository)
            .field("challenge", &self.challenge)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// What a reference resolved to.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Digest of what the tag names (an index for a multi-platform image):
    /// what `RepoDigests` records and `Digest:` prints.
    pub digest: String,
    /// Digest of the platform's image manifest.
    pub manifest_digest: String,
    /// The config blob.
    pub config: Descriptor,
    /// Layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
}

fn sha256(bytes: &[u8]) -> String {
    store::config::digest_string(&Sha256::digest(bytes))
}

/// `a b/c` → `a%20b%2Fc`, for query values.
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

/// Distribution's error document: `{"errors":[{"code","message"}]}`.
#[derive(serde::Deserialize)]
struct ErrorDoc {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(serde::Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Turns an error response into an error: distribution's code and message
/// as Docker prints them (`manifest unknown: manifest unknown`).
pub async fn status_error(resp: Response<Incoming>) -> RegistryError {
    let status = resp.status();
    let body = read_body(resp, MAX_ERROR_BODY, "error response")
        .await
        .unwrap_or_default();
    let doc: Option<ErrorDoc> = serde_json::from_slice(&body).ok();
    match doc.and_then(|d| d.errors.into_iter().next()) {
        Some(e) => RegistryError::Status {
            status: status.as_u16(),
            message: format!(
                "{}: {}",
                e.code.to_ascii_lowercase().replace('_', " "),
                e.message
            ),
            code: e.code,
        },
        None => RegistryError::Status {
            status: status.as_u16(),
            code: String::new(),
            message: match status {
                StatusCode::UNAUTHORIZED => "unauthorized: authentication required".into(),
                StatusCode::FORBIDDEN => {
                    "denied: requested access to the resource is denied".into()
                }
                s => format!(
                    "unexpected status {} {}",
                    s.as_u16(),
                    s.canonical_reason().unwrap_or("")
                ),
            },
        },
    }
}

impl Session {
    /// Checks `/v2/` on each of the endpoint's schemes in turn and keeps the
    /// first that answers, with the authentication it asks for.
    pub async fn open(
        endpoint: &Endpoint,
        repository: &str,
        credentials: Credentials,
        tokens: TokenCache,
    ) -> Result<Session, RegistryError> {
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
            let url: Uri = format!("{base}/v2/")
                .parse()
                .map_err(|e| RegistryError::Invalid(format!("registry {}: {e}", endpoint.host)))?;
            let req = Request::get(url)
                .header("User-Agent", crate::USER_AGENT)
                .body(Full::new(Bytes::new()))
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            match transport::send(req, &tls).await {
                Ok(resp) => {
                    let status = resp.status();
                    let challenge = resp
                        .headers()
                        .get_all(hyper::header::WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .filter_map(parse_challenge)
                        .next();
                    if !(status.is_success() || status == StatusCode::UNAUTHORIZED) {
                        last = Some(status_error(resp).await);
                        continue;
                    }
                    return Ok(Session {
                        endpoint: endpoint.clone(),
                        base,
                        tls,
                        credentials,
                        challenge,
                        repository: repository.to_string(),
                        tokens,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Invalid("no endpoint to try".into())))
    }

    /// The URL base the session settled on (`http://127.0.0.1:5000`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The `Authorization` value for `scope`, fetching a token if needed.
    pub(crate) async fn authorization(&self, scope: &str) -> Result<Option<String>, RegistryError> {
        let c = &self.credentials;
        match &self.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => {
                if c.username.is_empty() && c.password.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(c.basic()))
                }
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                if !c.registry_token.is_empty() {
                    return Ok(Some(format!("Bearer {}", c.registry_token)));
                }
                // Keyed by the whole credentials (hashed): a token fetched
                // with one password must never serve a request made with
                // another, even for the same user name.
                let who = sha256(
                    format!("{}\0{}\0{}", c.username, c.password, c.identity_token).as_bytes(),
                );
                let key = format!("{realm}|{service}|{scope}|{who}");
                if let Some((t, until)) = self.tokens.lock().map_err(poisoned)?.get(&key) {
                    if Instant::now() < *until {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                }
                let (token, ttl) = self.fetch_token(realm, service, scope).await?;
                // Keep it a little less than it lives, so no request carries
                // a token that expires on the way.
                let until = Instant::now() + Duration::from_secs(ttl.max(60)).mul_f32(0.9);
                self.tokens
                    .lock()
                    .map_err(poisoned)?
                    .insert(key, (token.clone(), until));
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Asks the token server: GET with basic auth (or anonymous), or the
    /// OAuth refresh-token POST for an identity token, as Docker does.
    async fn fetch_token(
        &self,
        realm: &str,
        service: &str,
        scope: &str,
    ) -> Result<(String, u64), RegistryError> {
        let c = &self.credentials;
        let mut query = format!("service={}", encode(service));
        // Several scopes (a push that mounts from another repository) are
        // several `scope` parameters, as the docker CLI sends them.
        for one in scope.split(' ').filter(|s| !s.is_empty()) {
            query.push_str(&format!("&scope={}", encode(one)));
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let req = if !c.identity_token.is_empty() {
            let form = format!(
                "grant_type=refresh_token&client_id=berth&refresh_token={}&{query}",
                encode(&c.identity_token)
            );
            Request::post(realm)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("User-Agent", crate::USER_AGENT)
                .body(Full::new(Bytes::from(form)))
        } else {
            if !c.username.is_empty() {
                query.push_str(&format!("&account={}", encode(&c.username)));
            }
            let mut b = Request::get(format!("{realm}{sep}{query}"))
                .header("User-Agent", crate::USER_AGENT);
            if !c.username.is_empty() || !c.password.is_empty() {
                b = b.header("Authorization", c.basic());
            }
            b.body(Full::new(Bytes::new()))
        }
        .map_err(|e| RegistryError::Auth(format!("token realm {realm:?}: {e}")))?;
        let tls = self.tls_for(req.uri());
        let resp = transport::send(req, &tls).await?;
        if !resp.status().is_success() {
            let status = resp.status();
            return Err(match status_error(resp).await {
                RegistryError::Status { message, code, .. } if !code.is_empty() => {
                    RegistryError::Status {
                        status: status.as_u16(),
                        code,
                        message,
                    }
                }
                _ if status == StatusCode::UNAUTHORIZED => RegistryError::Status {
                    status: 401,
                    code: "UNAUTHORIZED".into(),
                    message: "unauthorized: incorrect username or password".into(),
                },
                other => other,
            });
        }
        let body = read_body(resp, MAX_TOKEN_ANSWER, "token answer").await?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Auth(format!("token answer: {e}")))?;
        let token = answer
            .token()
            .ok_or_else(|| RegistryError::Auth("token answer without a token".into()))?
            .to_string();
        Ok((token, answer.expires_in))
    }

    /// The TLS settings for a URL: the registry's own for its host, the
    /// system's roots elsewhere (a CDN, a token server).
    pub(crate) fn tls_for(&self, url: &Uri) -> Tls {
        if url.authority().map(|a| a.as_str()) == Some(self.endpoint.host.as_str()) {
            self.tls.clone()
        } else {
            Tls::Verify(Vec::new())
        }
    }

    fn pull_scope(&self) -> String {
        format!("repository:{}:pull", self.repository)
    }

    /// Checks the credentials: the `/v2/` request authenticated (what
    /// `docker login` does through `POST /auth`).
    pub async fn login(&self) -> Result<(), RegistryError> {
        let resp = self.get("/v2/", None, "").await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            // Docker's words (registry/auth.go, loginV2).
            return Err(RegistryError::Status {
                status: status.as_u16(),
                code: String::new(),
                message: format!(
                    "login attempt to {}/v2/ failed with status: {} {}",
                    self.base,
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
            });
        }
        Err(status_error(resp).await)
    }

    /// Whether `url` is the registry itself: its host and port *and* the
    /// scheme the session settled on. A redirect from `https://host` to
    /// `http://host` is not: the registry's credentials never go over plain
    /// HTTP that the registry did not speak itself (Go's client, and so
    /// Docker's, drops them on any such change too).
    pub(crate) fn is_own(&self, url: &Uri) -> bool {
        let scheme = self.base.split("://").next();
        url.authority().map(|a| a.as_str()) == Some(self.endpoint.host.as_str())
            && url.scheme_str() == scheme
    }

    /// A GET of `path` under the registry, authenticated for `scope`, with
    /// redirects followed (authorization only to the registry itself, same
    /// host, port and scheme).
    pub async fn get(
        &self,
        path: &str,
        accept: Option<&str>,
        scope: &str,
    ) -> Result<Response<Incoming>, RegistryError> {
        self.get_from(path, accept, scope, 0).await
    }

    /// [`get`](Session::get) of the bytes from offset `from` on (a
    /// `Range` request when `from` > 0; the server may ignore it).
    pub async fn get_from(
        &self,
        path: &str,
        accept: Option<&str>,
        scope: &str,
        from: u64,
    ) -> Result<Response<Incoming>, RegistryError> {
        let mut auth = self.authorization(scope).await?;
        let mut retried = false;
        let mut url: Uri = format!("{}{path}", self.base)
            .parse()
            .map_err(|e| RegistryError::Invalid(format!("{path}: {e}")))?;
        let mut hops = 0;
        loop {
            let own = self.is_own(&url);
            let mut b = Request::builder()
                .method(Method::GET)
                .uri(url.clone())
                .header("User-Agent", crate::USER_AGENT);
            if let Some(a) = accept {
                b = b.header("Accept", a);
            }
            if from > 0 {
                b = b.header("Range", format!("bytes={from}-"));
            }
            if own {
                if let Some(a) = &auth {
                    b = b.header("Authorization", a);
                }
            }
            let req = b
                .body(Full::new(Bytes::new()))
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            let resp = transport::send(req, &self.tls_for(&url)).await?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && own && !retried && auth.is_some() {
                // A cached token may have expired early: fetch anew, once.
                retried = true;
                self.forget_tokens()?;
                auth = self.authorization(scope).await?;
                continue;
            }
            if status.is_redirection() {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(RegistryError::Invalid(format!(
                        "{path}: stopped after {MAX_REDIRECTS} redirects"
                    )));
                }
                let loc = resp
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        RegistryError::Invalid(format!("{path}: redirect without Location"))
                    })?;
                url = resolve_location(&url, loc).ok_or_else(|| {
                    RegistryError::Invalid(format!("{path}: bad redirect {loc:?}"))
                })?;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && own
                && auth.is_none()
                && self.challenge == Some(Challenge::Basic)
            {
                // Docker's words for a basic-auth registry asked without
                // credentials.
                return Err(RegistryError::Status {
                    status: 401,
                    code: "UNAUTHORIZED".into(),
                    message: format!("Get \"{url}\": no basic auth credentials"),
                });
            }
            return Ok(resp);
        }
    }

    pub(crate) fn forget_tokens(&self) -> Result<(), RegistryError> {
        self.tokens.lock().map_err(poisoned)?.clear();
        Ok(())
    }

    /// Fetches a manifest by tag or digest; checks its size and, asked by
    /// digest, its digest. Returns the bytes, their digest and media type.
    pub async fn manifest(
        &self,
        reference: &str,
    ) -> Result<(Bytes, String, String), RegistryError> {
        let path = format!("/v2/{}/manifests/{reference}", self.repository);
        let resp = self
            .get(&path, Some(manifest::ACCEPT), &self.pull_scope())
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        if let Some(len) = content_length(&resp) {
            if len > MAX_MANIFEST {
                return Err(RegistryError::Invalid(format!(
                    "manifest {reference} is {len} bytes, more than the limit of {MAX_MANIFEST}"
                )));
            }
        }
        let media = resp
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let header_digest = resp
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let bytes = read_body(resp, MAX_MANIFEST, &format!("manifest {reference}")).await?;
        let digest = sha256(&bytes);
        let want = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            header_digest.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(want) = want {
            if want != digest {
                return Err(RegistryError::Invalid(format!(
                    "manifest verification failed for digest {want}: the content's digest is {digest}"
                )));
            }
        }
        Ok((bytes, digest, media))
    }

    /// Resolves `reference` (a tag or a digest) to an image manifest for
    /// `platform`, following indexes.
    pub async fn resolve(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> Result<Resolved, RegistryError> {
        let (bytes, top, media) = self.manifest(reference).await?;
        let (mut bytes, mut digest, mut media) = (bytes, top.clone(), media);
        for _ in 0..=manifest::MAX_DEPTH {
            match manifest::parse(&bytes, &media)? {
                Parsed::Image { config, layers } => {
                    return Ok(Resolved {
                        digest: top,
                        manifest_digest: digest,
                        config,
                        layers,
                    })
                }
                Parsed::Index(entries) => {
                    let entry = manifest::select(&entries, platform)?;
                    // It goes into a URL: only a well-formed digest.
                    store::content::parse_digest(&entry.digest)
                        .map_err(|e| RegistryError::Invalid(format!("index entry: {e}")))?;
                    (bytes, digest, media) = self.manifest(&entry.digest).await?;
                    if bytes.len() as u64 != entry.size {
                        return Err(RegistryError::Invalid(format!(
                            "manifest {} is {} bytes, the index says {}",
                            entry.digest,
                            bytes.len(),
                            entry.size
                        )));
                    }
                }
            }
        }
        Err(RegistryError::Invalid(format!(
            "indexes nested deeper than {}",
            manifest::MAX_DEPTH
        )))
    }

    /// The repository's tags (`/v2/<name>/tags/list`, first page), for
    /// `docker pull --all-tags`; tags that are not valid tags are dropped.
    pub async fn tags(&self) -> Result<Vec<String>, RegistryError> {
        let path = format!("/v2/{}/tags/list", self.repository);
        let resp = self.get(&path, None, &self.pull_scope()).await?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        let body = read_body(resp, MAX_MANIFEST, "tag list").await?;
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let list: List = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::Invalid(format!("tag list: {e}")))?;
        let mut tags: Vec<String> = list
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter(|t| {
                store::reference::Reference::parse(&format!("x:{t}"))
                    .is_ok_and(|r| r.tag.as_deref() == Some(t.as_str()))
            })
            .collect();
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    /// Starts a blob download; the stream checks size and digest.
    pub async fn blob(&self, desc: &Descriptor) -> Result<BlobStream, RegistryError> {
        store::content::parse_digest(&desc.digest)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let path = format!("/v2/{}/blobs/{}", self.repository, desc.digest);
        let resp = self.get(&path, None, &self.pull_scope()).await?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        if let Some(len) = content_length(&resp) {
            if len != desc.size {
                return Err(RegistryError::Invalid(format!(
                    "blob {} is {len} bytes, its descriptor says {}",
                    desc.digest, desc.size
                )));
            }
        }
        Ok(BlobStream {
            body: resp.into_body(),
            digest: desc.digest.clone(),
            size: desc.size,
            seen: 0,
            hasher: Sha256::new(),
            done: false,
            session: self.clone(),
            path,
            resumes: 0,
            skip: 0,
        })
    }

    /// A whole small blob (a config), checked.
    pub async fn blob_bytes(&self, desc: &Descriptor, max: u64) -> Result<Vec<u8>, RegistryError> {
        if desc.size > max {
            return Err(RegistryError::Invalid(format!(
                "blob {} is {} bytes, more than the limit of {max}",
                desc.digest, desc.size
            )));
        }
        let mut s = self.blob(desc).await?;
        let mut out = Vec::with_capacity(usize::try_from(desc.size).unwrap_or(0));
        while let Some(chunk) = s.next().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

fn poisoned<T>(_: T) -> RegistryError {
    RegistryError::Auth("token cache poisoned".into())
}

pub(crate) fn content_length(resp: &Response<Incoming>) -> Option<u64> {
    resp.headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A blob's bytes as they arrive: never more than its descriptor's size,
/// and the digest checked when the last byte is in. Until [`next`] has
/// returned `None`, the bytes are unverified.
///
/// [`next`]: BlobStream::next
pub struct BlobStream {
    body: Incoming,
    digest: String,
    size: u64,
    seen: u64,
    hasher: Sha256,
    done: bool,
    /// Where the blob came from, to resume an interrupted download.
    session: Session,
    path: String,
    /// Resumes so far (at most [`MAX_RESUMES`]).
    resumes: u32,
    /// Bytes of a resumed answer to drop (a server that ignored `Range`
    /// sends the blob from its start).
    skip: u64,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("digest", &self.digest)
            .field("size", &self.size)
            .field("seen", &self.seen)
            .field("resumes", &self.resumes)
            .finish()
    }
}

/// How many times an interrupted blob download is taken up again.
const MAX_RESUMES: u32 = 3;

impl BlobStream {
    /// The next chunk; `None` once all bytes arrived and matched the
    /// digest; an error on a mismatch, a short or long body, or a stall.
    pub async fn next(&mut self) -> Result<Option<Bytes>, RegistryError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let frame = match tokio::time::timeout(STALL_TIMEOUT, self.body.frame()).await {
                Ok(f) => f,
                Err(_) => {
                    self.resume(format!("blob {}: transfer stalled", self.digest))
                        .await?;
                    continue;
                }
            };
            // Cut short (the connection dropped): take it up where it stopped.
            let cut = match &frame {
                None => self.seen < self.size,
                Some(Err(_)) => true,
                Some(Ok(_)) => false,
            };
            if cut {
                let why = match &frame {
                    Some(Err(e)) => format!("blob {}: {e}", self.digest),
                    _ => format!(
                        "blob {}: got {} bytes, expected {}",
                        self.digest, self.seen, self.size
                    ),
                };
                self.resume(why).await?;
                continue;
            }
            let Some(frame) = frame else {
                self.done = true;
                if self.seen != self.size {
                    return Err(RegistryError::Invalid(format!(
                        "blob {}: got {} bytes, expected {}",
                        self.digest, self.seen, self.size
                    )));
                }
                let actual =
                    store::config::digest_string(&std::mem::take(&mut self.hasher).finalize());
                if actual != self.digest {
                    return Err(RegistryError::Invalid(format!(
                        "filesystem layer verification failed for digest {}: the content's digest is {actual}",
                        self.digest
                    )));
                }
                return Ok(None);
            };
            let frame =
                frame.map_err(|e| RegistryError::Invalid(format!("blob {}: {e}", self.digest)))?;
            let Ok(mut data) = frame.into_data() else {
                continue;
            };
            if self.skip > 0 {
                let k = self.skip.min(data.len() as u64) as usize;
                self.skip -= k as u64;
                data = data.slice(k..);
                if data.is_empty() {
                    continue;
                }
            }
            self.seen += data.len() as u64;
            if self.seen > self.size {
                return Err(RegistryError::Invalid(format!(
                    "blob {}: more than the {} bytes its descriptor says",
                    self.digest, self.size
                )));
            }
            self.hasher.update(&data);
            return Ok(Some(data));
        }
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.seen
    }

    /// Asks again for the bytes from `seen` on (a `Range` request); a
    /// `206` with the right start continues the stream, a `200` is the
    /// whole blob again (its first `seen` bytes dropped). Gives up with
    /// `why` after [`MAX_RESUMES`] tries.
    async fn resume(&mut self, why: String) -> Result<(), RegistryError> {
        if self.resumes >= MAX_RESUMES {
            return Err(RegistryError::Invalid(why));
        }
        self.resumes += 1;
        let resp = self
            .session
            .get_from(&self.path, None, &self.session.pull_scope(), self.seen)
            .await?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let start = resp
                    .headers()
                    .get(hyper::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(self.seen) {
                    return Err(RegistryError::Invalid(format!(
                        "blob {}: asked to resume at {}, the registry answered {:?}",
                        self.digest, self.seen, start
                    )));
                }
                self.skip = 0;
            }
            s if s.is_success() => self.skip = self.seen,
            _ => return Err(status_error(resp).await),
        }
        self.body = resp.into_body();
        Ok(())
    }
}
