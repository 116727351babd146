//! `POST /images/{name}/push?tag=…` (`docker push`): the image found and its
//! registry reached first (failures there get status codes), then Docker's
//! JSON progress streamed: `The push refers to repository […]`, per layer
//! `Preparing`, `Waiting`, `Pushing`, `Pushed`, `Layer already exists`,
//! `Mounted from …`, then `TAG: digest: sha256:… size: N` and the `aux`
//! message `{"Tag","Digest","Size"}` that the docker CLI reads. No `tag` is
//! every tag of the repository (`docker push --all-tags`), as dockerd.
//! Layers are compressed as the daemon's `--push-compression` says, or the
//! query's `compression=gzip|zstd`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Response;
use models::progress::{Message, PushResult};
use store::reference::Reference;

use super::query::Query;
use super::{ApiError, Body};
use crate::Daemon;

/// `POST /images/{name}/push`.
pub async fn push(
    d: &Arc<Daemon>,
    name: String,
    q: &Query,
    registry_auth: &str,
) -> Result<Response<Body>, ApiError> {
    let bad = |e: String| ApiError::bad_request(e);
    let base = Reference::parse(&name).map_err(|e| bad(e.to_string()))?;
    let credentials =
        registry::Credentials::from_header(registry_auth).map_err(|e| bad(e.to_string()))?;
    let mut options = d.settings.push.clone();
    if !q.get("compression").is_empty() {
        options.compression = engine::push::Compression::parse(q.get("compression"))?;
    }
    let references = if !q.get("tag").is_empty() {
        let full = format!("{}:{}", base.name(), q.get("tag"));
        vec![Reference::parse(&full).map_err(|e| bad(e.to_string()))?]
    } else if base.tag.is_some() {
        vec![base.clone()]
    } else {
        let e = d.engine.clone();
        let b = base.clone();
        super::blocking(move || e.push_tags(&b)).await?
    };
    let mut plans = Vec::new();
    for r in &references {
        plans.push(
            d.engine
                .push_prepare(&d.registry, r.clone(), credentials.clone(), options.clone())
                .await?,
        );
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let line = |v: Message| {
        let mut b = serde_json::to_vec(&v).unwrap_or_default();
        b.push(b'\n');
        Bytes::from(b)
    };
    let sink_tx = tx.clone();
    let sink: engine::pull::Sink = Arc::new(move |p| {
        // The progress reader went away (the client hung up): the push goes on.
        let _ = sink_tx.send(line(crate::daemon::images::progress_json(&p)));
    });
    let daemon = d.clone();
    tokio::spawn(async move {
        for (plan, r) in plans.into_iter().zip(references) {
            match plan.run(sink.clone()).await {
                Ok(pushed) => {
                    let aux = PushResult {
                        tag: pushed.tag,
                        digest: pushed.digest,
                        size: pushed.size as i64,
                    };
                    // The client hung up: nobody is left to tell.
                    let _ = tx.send(line(Message {
                        progress_detail: Some(Default::default()),
                        aux: serde_json::to_value(aux).ok(),
                        ..Default::default()
                    }));
                    let shown = r.familiar();
                    daemon.events.emit(
                        "image",
                        "push",
                        &shown,
                        std::collections::BTreeMap::from([("name".to_string(), shown.clone())]),
                    );
                }
                Err(e) => {
                    // The client hung up: nobody is left to tell.
                    let _ = tx.send(line(Message::error(e.to_string())));
                    return;
                }
            }
        }
    });
    let (mut btx, body) = http_body_util::channel::Channel::<Bytes, std::io::Error>::new(4);
    tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if btx.send_data(b).await.is_err() {
                break;
            }
        }
    });
    let mut r = Response::new(BodyExt::boxed(body));
    r.headers_mut().insert(
        "Content-Type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
