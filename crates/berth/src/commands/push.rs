//! `berth push`: `POST /images/{name}/push?tag=…` with the saved login for
//! the image's registry as `X-Registry-Auth`, as the docker CLI sends it;
//! the daemon's progress drawn as the docker CLI draws it.

use std::io::IsTerminal;

use anyhow::Result;
use clap::Args;
use hyper::Method;

use super::{outln, Status};
use crate::client::{self, Client, Query};
use crate::progress::{render, Renderer};

/// `berth push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image: NAME[:TAG]
    #[arg(value_name = "NAME[:TAG]")]
    pub reference: String,
}

/// Splits `NAME[:TAG]` (a tag after the last `/` only).
fn split(reference: &str) -> (String, Option<String>) {
    let (name, tag) = super::image::split_tag(reference);
    (name.to_string(), tag.map(String::from))
}

/// `berth push`.
pub async fn push(client: &Client, a: &PushArgs) -> Result<u8> {
    if a.reference.contains('@') {
        return Err(Status::exit(1, "cannot push a digest reference"));
    }
    let (name, tag) = split(&a.reference);
    let tag = match (tag, a.all_tags) {
        (Some(_), true) => return Err(Status::exit(1, "tag can't be used with --all-tags/-a")),
        (Some(t), false) => t,
        (None, true) => String::new(),
        (None, false) => {
            if !a.quiet {
                outln("Using default tag: latest")?;
            }
            "latest".into()
        }
    };
    let auth = crate::credentials::registry_auth(&crate::credentials::server_of(&name))?;
    let q = Query::new().opt("tag", &tag);
    let resp = client
        .send_with_auth(
            Method::POST,
            &format!("/images/{}/push{q}", client::path(&name)),
            &auth,
        )
        .await?;
    let mut r = Renderer::new(std::io::stdout().is_terminal(), a.quiet);
    render(resp.into_body(), &mut r).await?;
    if a.quiet {
        outln(&a.reference)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tags() {
        for (r, name, tag) in [
            ("bb", "bb", None),
            ("127.0.0.1:5000/bb", "127.0.0.1:5000/bb", None),
            ("127.0.0.1:5000/bb:1", "127.0.0.1:5000/bb", Some("1")),
        ] {
            assert_eq!(split(r), (name.to_string(), tag.map(String::from)));
        }
    }
}
