//! The push side of a [`Session`]: is a blob there (`HEAD`), mount it from
//! another repository of the registry, upload it whole or in chunks, put a
//! manifest. The flows are distribution's
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md#push>):
//!
//! ```text
//! HEAD  /v2/<repo>/blobs/<digest>                      200: skip it
//! POST  /v2/<repo>/blobs/uploads/?mount=<d>&from=<r>   201: mounted; 202: upload here
//! POST  /v2/<repo>/blobs/uploads/                      202, Location: the upload
//! PUT   <location>?digest=<d>  (whole blob as body)    201   (monolithic)
//! PATCH <location>  Content-Range: a-b   (a chunk)     202, Location: the next
//! PUT   <location>?digest=<d>  (empty)                 201   (chunked)
//! PUT   /v2/<repo>/manifests/<tag>                     201
//! ```
//!
//! A registry is untrusted here too: a `HEAD` that names another size or
//! digest than asked, an upload that ends with another digest, a redirect
//! loop, each is an error; nothing here touches local state.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::auth::Challenge;
use crate::error::RegistryError;
use crate::manifest::Descriptor;
use crate::session::{content_length, status_error, Session, MAX_REDIRECTS};
use crate::transport::{self, method_word, resolve_location};

/// Blobs larger than this go up in chunks of this size (PATCH); smaller
/// ones in one PUT. distribution takes either; chunks keep memory bounded.
pub const DEFAULT_CHUNK: u64 = 16 << 20;

/// What a mount attempt gave.
#[derive(Debug)]
pub enum Mount {
    /// The registry linked the blob from the other repository (201).
    Mounted,
    /// It did not, and opened an upload instead (202): its location.
    Upload(String),
}

/// `a b/c` → `a%20b%2Fc`, for query values (digests carry a `:`).
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

fn header<'a>(resp: &'a Response<Incoming>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

impl Session {
    /// The scope a push needs: pull and push on the repository.
    fn push_scope(&self) -> String {
        format!("repository:{}:pull,push", self.repository)
    }

    /// The repository this session is about.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// Sends `method` to `target` (a path under the registry or a URL it
    /// gave) with `body`, authenticated for a push: redirects (307/308,
    /// which keep the method and body) followed at most [`MAX_REDIRECTS`]
    /// times, credentials only to the registry's own host, a 401 retried
    /// once with a fresh token.
    async fn send(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Response<Incoming>, RegistryError> {
        self.send_scoped(method, target, headers, body, &self.push_scope())
            .await
    }

    /// [`Session::send`] authorized for `scope` (space-separated scopes).
    async fn send_scoped(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, String)],
        body: Bytes,
        scope: &str,
    ) -> Result<Response<Incoming>, RegistryError> {
        let mut auth = self.authorization(scope).await?;
        let mut retried = false;
        let base: Uri = format!("{}/v2/", self.base)
            .parse()
            .map_err(|e| RegistryError::Invalid(format!("{}: {e}", self.base)))?;
        let mut url = resolve_location(&base, target)
            .ok_or_else(|| RegistryError::Invalid(format!("bad upload location {target:?}")))?;
        let mut hops = 0;
        loop {
            let own = self.is_own(&url);
            let mut b = Request::builder()
                .method(method.clone())
                .uri(url.clone())
                .header("User-Agent", crate::USER_AGENT)
                .header("Content-Length", body.len().to_string());
            for (k, v) in headers {
                b = b.header(*k, v);
            }
            if own {
                if let Some(a) = &auth {
                    b = b.header("Authorization", a);
                }
            }
            let req = b
                .body(Full::new(body.clone()))
                .map_err(|e| RegistryError::Invalid(e.to_string()))?;
            let resp = transport::send(req, &self.tls_for(&url)).await?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && own && !retried && auth.is_some() {
                retried = true;
                self.forget_tokens()?;
                auth = self.authorization(scope).await?;
                continue;
            }
            if status == StatusCode::TEMPORARY_REDIRECT || status == StatusCode::PERMANENT_REDIRECT
            {
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(RegistryError::Invalid(format!(
                        "{} {}: stopped after {MAX_REDIRECTS} redirects",
                        method_word(&method),
                        url
                    )));
                }
                let loc = header(&resp, "location").ok_or_else(|| {
                    RegistryError::Invalid(format!("{url}: redirect without Location"))
                })?;
                url = resolve_location(&url, loc).ok_or_else(|| {
                    RegistryError::Invalid(format!("{url}: bad redirect {loc:?}"))
                })?;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                && own
                && auth.is_none()
                && self.challenge == Some(Challenge::Basic)
            {
                return Err(RegistryError::Status {
                    status: 401,
                    code: "UNAUTHORIZED".into(),
                    message: format!(
                        "{} \"{url}\": no basic auth credentials",
                        method_word(&method)
                    ),
                });
            }
            return Ok(resp);
        }
    }

    /// Whether the repository has `desc`'s blob (`HEAD`). A registry that
    /// says yes with another size or digest is lying: an error, so that no
    /// manifest goes up naming a blob that is not what it says.
    pub async fn blob_exists(&self, desc: &Descriptor) -> Result<bool, RegistryError> {
        store::content::parse_digest(&desc.digest)
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let path = format!("/v2/{}/blobs/{}", self.repository, desc.digest);
        let resp = self.send(Method::HEAD, &path, &[], Bytes::new()).await?;
        match resp.status() {
            s if s.is_success() => {
                if let Some(len) = content_length(&resp) {
                    if len != desc.size {
                        return Err(RegistryError::Invalid(format!(
                            "registry says blob {} is {len} bytes, it is {}",
                            desc.digest, desc.size
                        )));
                    }
                }
                if let Some(d) = header(&resp, "docker-content-digest") {
                    if d != desc.digest {
                        return Err(RegistryError::Invalid(format!(
                            "registry answered blob {} with digest {d}",
                            desc.digest
                        )));
                    }
                }
                Ok(true)
            }
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(resp).await),
        }
    }

    /// Asks the registry to link `digest` from repository `from` (a
    /// cross-repository mount). Falls back to the upload it opens.
    pub async fn mount_blob(&self, digest: &str, from: &str) -> Result<Mount, RegistryError> {
        store::content::parse_digest(digest).map_err(|e| RegistryError::Invalid(e.to_string()))?;
        let path = format!(
            "/v2/{}/blobs/uploads/?mount={}&from={}",
            self.repository,
            encode(digest),
            encode(from)
        );
        // A token server must grant pull on the source too, or the
        // registry cannot link the blob.
        let scope = format!("{} repository:{from}:pull", self.push_scope());
        let resp = self
            .send_scoped(Method::POST, &path, &[], Bytes::new(), &scope)
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(location(&resp)?)),
            _ => Err(status_error(resp).await),
        }
    }

    /// Opens an upload (`POST …/blobs/uploads/`); returns its location.
    pub async fn start_upload(&self) -> Result<String, RegistryError> {
        let path = format!("/v2/{}/blobs/uploads/", self.repository);
        let resp = self.send(Method::POST, &path, &[], Bytes::new()).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(status_error(resp).await);
        }
        location(&resp)
    }

    /// Uploads `desc`'s blob from `data` into the upload at `location`:
    /// one PUT when it is at most `chunk` bytes, else PATCHes of `chunk`
    /// bytes each and a closing PUT. `progress` hears the bytes sent so far.
    /// The registry's answer must name the digest sent.
    pub async fn upload_blob(
        &self,
        location: String,
        desc: &Descriptor,
        mut data: impl AsyncRead + Unpin,
        chunk: u64,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<(), RegistryError> {
        let chunk = chunk.max(1);
        let read_err = |e: std::io::Error| {
            RegistryError::Invalid(format!("reading blob {}: {e}", desc.digest))
        };
        let octets = ("Content-Type", "application/octet-stream".to_string());
        let mut location = location;
        let last_body = if desc.size <= chunk {
            let mut buf = Vec::with_capacity(usize::try_from(desc.size).unwrap_or(0));
            (&mut data)
                .take(desc.size)
                .read_to_end(&mut buf)
                .await
                .map_err(read_err)?;
            Bytes::from(buf)
        } else {
            let mut sent = 0u64;
            while sent < desc.size {
                let n = chunk.min(desc.size - sent);
                let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
                (&mut data)
                    .take(n)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(read_err)?;
                if buf.len() as u64 != n {
                    return Err(RegistryError::Invalid(format!(
                        "blob {} ended at {} bytes, expected {}",
                        desc.digest,
                        sent + buf.len() as u64,
                        desc.size
                    )));
                }
                let range = ("Content-Range", format!("{sent}-{}", sent + n - 1));
                let resp = self
                    .send(
                        Method::PATCH,
                        &location,
                        &[octets.clone(), range],
                        Bytes::from(buf),
                    )
                    .await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(status_error(resp).await);
                }
                location = self::location(&resp)?;
                sent += n;
                progress(sent);
            }
            Bytes::new()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let target = format!("{location}{sep}digest={}", encode(&desc.digest));
        let size = last_body.len() as u64;
        let resp = self
            .send(Method::PUT, &target, &[octets], last_body)
            .await?;
        if resp.status() != StatusCode::CREATED {
            return Err(status_error(resp).await);
        }
        if let Some(d) = header(&resp, "docker-content-digest") {
            if d != desc.digest {
                return Err(RegistryError::Invalid(format!(
                    "registry stored blob {} as {d}",
                    desc.digest
                )));
            }
        }
        if size > 0 {
            progress(size);
        }
        Ok(())
    }

    /// Puts a manifest under `reference` (a tag or its digest); returns its
    /// digest, which the registry's answer must agree with.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let digest = store::config::sha256(&bytes);
        let path = format!("/v2/{}/manifests/{reference}", self.repository);
        let resp = self
            .send(
                Method::PUT,
                &path,
                &[("Content-Type", media_type.to_string())],
                bytes,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(status_error(resp).await);
        }
        if let Some(d) = header(&resp, "docker-content-digest") {
            if d != digest {
                return Err(RegistryError::Invalid(format!(
                    "registry stored manifest {digest} as {d}"
                )));
            }
        }
        Ok(digest)
    }
}

/// An upload answer's `Location`, which the next request goes to.
fn location(resp: &Response<Incoming>) -> Result<String, RegistryError> {
    header(resp, "location")
        .map(String::from)
        .ok_or_else(|| RegistryError::Invalid("upload answer without a Location".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        for (raw, want) in [
            ("sha256:ab", "sha256%3Aab"),
            ("library/bb", "library%2Fbb"),
            ("a-b_c.d~", "a-b_c.d~"),
        ] {
            assert_eq!(encode(raw), want);
        }
    }
}
