//! `berth inspect`, `container inspect`, `image inspect`: the daemon's JSON
//! of each object, as a four-space indented array, or each through a
//! `--format` template. Objects that are not found are reported after the
//! others, as docker does (`[]` and `Error: No such object: x`).

use anyhow::Result;
use clap::{Args, ValueEnum};
use hyper::StatusCode;
use serde_json::Value;

use super::{indented, out, outln, Errors, Status};
use crate::client::{self, ApiError, Client};
use crate::template::{Template, Zeros};

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A container.
    Container,
    /// An image.
    Image,
    /// A volume.
    Volume,
    /// A network.
    Network,
}

/// `berth inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long, value_name = "string")]
    pub format: Option<String>,
    /// Display total file sizes if the type is container (accepted)
    #[arg(short = 's', long)]
    pub size: bool,
    /// Return JSON for specified type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<Kind>,
    /// Names or IDs
    #[arg(required = true, value_name = "NAME|ID")]
    pub names: Vec<String>,
}

/// The zeros of each field of an object of `kind` (see [`Template::render_typed`]).
fn zeros(kind: Kind, v: &Value) -> Zeros {
    use models::zero::zeros;
    match kind {
        Kind::Container => zeros::<models::container::Inspect>(v),
        Kind::Image => zeros::<models::image::Inspect>(v),
        Kind::Volume => zeros::<models::volume::Volume>(v),
        Kind::Network => zeros::<models::network::Network>(v),
    }
}

/// The daemon's JSON of `name` as it sent it (what `inspect` prints), and
/// the zeros of its type's fields (what a template prints for a field it
/// left `null` or out, as docker's templates on its typed structs).
async fn find(client: &Client, name: &str, kind: Option<Kind>) -> Result<Option<(Value, Zeros)>> {
    let n = client::path(name);
    let paths = match kind {
        Some(Kind::Container) => vec![(Kind::Container, format!("/containers/{n}/json"))],
        Some(Kind::Image) => vec![(Kind::Image, format!("/images/{n}/json"))],
        Some(Kind::Volume) => vec![(Kind::Volume, format!("/volumes/{n}"))],
        Some(Kind::Network) => vec![(Kind::Network, format!("/networks/{n}"))],
        None => vec![
            (Kind::Container, format!("/containers/{n}/json")),
            (Kind::Image, format!("/images/{n}/json")),
            (Kind::Volume, format!("/volumes/{n}")),
        ],
    };
    for (k, p) in paths {
        match client.get::<Value>(&p).await {
            Ok(v) => {
                let z = zeros(k, &v);
                return Ok(Some((v, z)));
            }
            Err(e)
                if e.downcast_ref::<ApiError>()
                    .is_some_and(|a| a.status == StatusCode::NOT_FOUND) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// `berth inspect` (and the typed ones, with `kind` set).
pub async fn inspect(client: &Client, a: &InspectArgs, kind: Option<Kind>) -> Result<u8> {
    let kind = kind.or(a.kind);
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}").expect("a fixed template")),
        Some(f) => Some(
            Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))
                .map_err(|e| Status::exit(1, format!("template parsing error: {e}")))?,
        ),
    };
    let mut found = Vec::new();
    let mut errs = Errors::default();
    for n in &a.names {
        match find(client, n, kind).await? {
            Some(v) => found.push(v),
            // docker's volume inspect passes the daemon's words on.
            None if kind == Some(Kind::Volume) => errs.push_text(format!(
                "Error response from daemon: get {n}: no such volume"
            )),
            None if kind == Some(Kind::Network) => {
                errs.push_text(format!("Error response from daemon: network {n} not found"))
            }
            None => errs.push_text(format!(
                "Error: No such {}: {n}",
                match kind {
                    Some(Kind::Container) => "container",
                    Some(Kind::Image) => "image",
                    _ => "object",
                }
            )),
        }
    }
    match template {
        None => {
            let raw: Vec<&Value> = found.iter().map(|(v, _)| v).collect();
            outln(indented(&raw))?
        }
        Some(t) => {
            for (v, z) in &found {
                let text = t
                    .render_typed(v, z)
                    .map_err(|e| Status::exit(1, format!("template: {e}")))?;
                out(&format!("{text}\n"))?;
            }
        }
    }
    errs.finish()
}
