//! `berth build`: a directory (or a tar, or a Dockerfile, on stdin) sent as
//! the build context to `POST /build`, `.dockerignore` applied here as the
//! docker CLI applies it, and the daemon's progress printed as it comes.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use models::image::BuildResult;
use models::progress::Message;

use super::Status;
use crate::client::{self, Client, Query};

/// `berth build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list")]
    pub build_arg: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<String>,
    /// Always remove intermediate containers
    #[arg(long = "force-rm")]
    pub force_rm: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "string")]
    pub iidfile: Option<PathBuf>,
    /// Set metadata for an image
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Remove intermediate containers after a successful build (default true)
    #[arg(
        long,
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        hide_default_value = true,
    )]
    pub rm: bool,
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub tag: Vec<String>,
    /// Set the target build stage to build
    #[arg(long, value_name = "string")]
    pub target: Option<String>,
    /// The build context: a directory, or `-` for a tar or a Dockerfile on stdin
    #[arg(value_name = "PATH | -")]
    pub context: String,
}

/// The context as a tar, written by a thread into a pipe that is the
/// request body; returns the Dockerfile's name inside it.
fn context_tar(a: &BuildArgs) -> Result<(client::Body, String)> {
    let (reader, writer) = super::pipe()?;
    let body = client::reader_body(fs::File::from(reader));
    if a.context == "-" {
        // A tar as is, or a lone Dockerfile made into one.
        let mut data = Vec::new();
        std::io::stdin()
            .take(1 << 30)
            .read_to_end(&mut data)
            .context("read stdin")?;
        let is_tar = data.len() >= 262 && &data[257..262] == b"ustar";
        let is_compressed =
            data.starts_with(&[0x1f, 0x8b]) || data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let name = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
        std::thread::spawn(move || -> std::io::Result<()> {
            let mut w = fs::File::from(writer);
            if is_tar || is_compressed {
                w.write_all(&data)
            } else {
                let mut tar = tar::Builder::new(w);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                tar.append_data(&mut h, "Dockerfile", &data[..])?;
                tar.finish()
            }
        });
        return Ok((body, name));
    }
    let dir = PathBuf::from(&a.context);
    let meta = fs::metadata(&dir).map_err(|e| {
        Status::exit(
            1,
            format!(
                "unable to prepare context: path {:?} not found ({e})",
                a.context
            ),
        )
    })?;
    if !meta.is_dir() {
        return Err(Status::exit(
            1,
            format!(
                "unable to prepare context: context must be a directory: {}",
                a.context
            ),
        ));
    }
    // The Dockerfile: inside the context, or sent beside it under a
    // name of its own when it lives elsewhere (as the docker CLI does).
    let (df_name, outside) = match &a.file {
        None => ("Dockerfile".to_string(), None),
        Some(f) if f == "-" => {
            let mut s = Vec::new();
            std::io::stdin().take(4 << 20).read_to_end(&mut s)?;
            (".dockerfile.stdin".to_string(), Some(s))
        }
        Some(f) => {
            let p = Path::new(f);
            let abs = fs::canonicalize(p).map_err(|e| {
                Status::exit(
                    1,
                    format!("unable to prepare context: the Dockerfile ({f}) cannot be read: {e}"),
                )
            })?;
            let root = fs::canonicalize(&dir)?;
            match abs.strip_prefix(&root) {
                Ok(rel) => (rel.to_string_lossy().into_owned(), None),
                Err(_) => (
                    ".dockerfile.outside".to_string(),
                    Some(fs::read(&abs).with_context(|| format!("read {f}"))?),
                ),
            }
        }
    };
    if outside.is_none() && !dir.join(&df_name).is_file() {
        return Err(Status::exit(
            1,
            format!(
                "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory",
                dir.join(&df_name).display()
            ),
        ));
    }
    let patterns = match fs::read_to_string(dir.join(".dockerignore")) {
        Ok(t) => build::ignore::Patterns::parse(&t)
            .map_err(|e| Status::exit(1, format!("error reading .dockerignore: {e}")))?,
        Err(_) => build::ignore::Patterns::default(),
    };
    let keep = [df_name.clone(), ".dockerignore".to_string()];
    let name = df_name.clone();
    std::thread::spawn(move || -> std::io::Result<()> {
        let mut tar = tar::Builder::new(fs::File::from(writer));
        tar.follow_symlinks(false);
        add_dir(&mut tar, &dir, "", &patterns, &keep)?;
        if let Some(data) = outside {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            tar.append_data(&mut h, &name, &data[..])?;
        }
        tar.finish()
    });
    Ok((body, df_name))
}

/// Adds what `dir` holds below `prefix`, skipping what `.dockerignore`
/// excludes (an excluded directory is still walked when exceptions might
/// re-include something under it).
fn add_dir(
    tar: &mut tar::Builder<fs::File>,
    dir: &Path,
    prefix: &str,
    patterns: &build::ignore::Patterns,
    keep: &[String],
) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let rel = format!("{prefix}{}", e.file_name().to_string_lossy());
        let excluded = patterns.excluded(&rel) && !keep.contains(&rel);
        let ft = e.file_type()?;
        if ft.is_dir() {
            if !excluded {
                tar.append_path_with_name(e.path(), &rel)?;
            }
            if !excluded || patterns.has_exceptions() {
                add_dir(tar, &e.path(), &format!("{rel}/"), patterns, keep)?;
            }
        } else if !excluded {
            tar.append_path_with_name(e.path(), &rel)?;
        }
    }
    Ok(())
}

/// `--build-arg k=v` (or `k`, taken from the environment as docker does).
fn build_args(list: &[String]) -> BTreeMap<String, Option<String>> {
    list.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (a.clone(), std::env::var(a).ok()),
        })
        .collect()
}

/// `berth build`.
pub async fn build(client: &Client, a: &BuildArgs) -> Result<u8> {
    let (body, dockerfile) = context_tar(a)?;
    let labels: BTreeMap<String, String> = a
        .label
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect();
    let mut q = Query::new()
        .add("dockerfile", &dockerfile)
        .add(
            "buildargs",
            &serde_json::to_string(&build_args(&a.build_arg))?,
        )
        .add("labels", &serde_json::to_string(&labels)?)
        .flag("nocache", a.no_cache)
        .flag("pull", a.pull)
        .flag("q", a.quiet)
        .add("rm", if a.rm { "1" } else { "0" })
        .flag("forcerm", a.force_rm)
        .opt("target", a.target.as_deref().unwrap_or(""));
    for t in &a.tag {
        q = q.add("t", t);
    }
    if !a.quiet {
        super::outln("Sending build context to the berth daemon")?;
    }
    let resp = client
        .send(
            Method::POST,
            &format!("/build{q}"),
            body,
            "application/x-tar",
        )
        .await?;
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut id = None;
    let mut error = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| anyhow!("build stream: {e}"))?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let Ok(m) = models::de::from_slice::<Message>(&line) else {
                continue;
            };
            if !m.stream.is_empty() && !a.quiet {
                super::out(&m.stream)?;
            }
            if let Some(r) = m
                .aux
                .and_then(|v| models::de::from_value::<BuildResult>(v).ok())
            {
                id = Some(r.id);
            }
            if let Some(d) = m.error_detail {
                // As the docker CLI: the failed RUN's code, else 1.
                let code = u8::try_from(d.code).ok().filter(|c| *c != 0).unwrap_or(1);
                error = Some((code, d.message));
            } else if !m.error.is_empty() {
                error = Some((1, m.error));
            }
        }
    }
    if let Some((code, e)) = error {
        return Err(Status::exit(code, e));
    }
    let id = id.ok_or_else(|| anyhow!("the daemon did not say which image it built"))?;
    if a.quiet {
        super::outln(&id)?;
    }
    if let Some(f) = &a.iidfile {
        fs::write(f, &id).with_context(|| format!("write {}", f.display()))?;
    }
    Ok(0)
}
