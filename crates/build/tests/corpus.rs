//! A corpus of Dockerfiles written the way people write them, each with
//! the instruction list Docker's parser gives (`NAME.expected`) or the
//! error it stops at (`NAME.error`). Adding `tests/corpus/NAME.Dockerfile`
//! and its expectation adds a case; `BLESS=1` rewrites the expectations
//! from the parser (review them line by line before committing).
//!
//! Strings are rendered with Rust's `{:?}` escaping (names, which are
//! never quoted, with `escape_debug`), so blanks, quotes, tabs, `\r` and
//! no-break spaces are all visible in the expected files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use build::{Command, CopySpec, Dockerfile, Flags, Heredoc, Kind};

fn command(c: &Command) -> String {
    match c {
        Command::Shell(s) => format!("shell:{s:?}"),
        Command::Exec(v) => format!("exec:{v:?}"),
    }
}

fn flags(f: &Flags) -> String {
    let parts: Vec<String> = f
        .iter()
        .map(|(n, v)| format!("{}={v:?}", n.escape_debug()))
        .collect();
    format!("flags=[{}]", parts.join(", "))
}

fn heredocs(h: &[Heredoc]) -> String {
    let parts: Vec<String> = h
        .iter()
        .map(|h| {
            let mode = if h.expand { "expand" } else { "noexpand" };
            format!("{}:{mode}:{:?}", h.name.escape_debug(), h.content)
        })
        .collect();
    format!("heredocs=[{}]", parts.join(", "))
}

fn pairs(p: &[(String, String)]) -> String {
    let parts: Vec<String> = p
        .iter()
        .map(|(n, v)| format!("{}={v:?}", n.escape_debug()))
        .collect();
    parts.join(" ")
}

fn copy(c: &CopySpec) -> String {
    let mut out = String::from(if c.add { "ADD" } else { "COPY" });
    if !c.flags.is_empty() {
        write!(out, " {}", flags(&c.flags)).unwrap();
    }
    write!(out, " src={:?}", c.sources).unwrap();
    if !c.heredocs.is_empty() {
        write!(out, " {}", heredocs(&c.heredocs)).unwrap();
    }
    write!(out, " dest={:?}", c.dest).unwrap();
    out
}

/// One instruction on one line; optional parts (flags, heredocs) only
/// when present.
fn kind(k: &Kind) -> String {
    match k {
        Kind::Run {
            flags: f,
            command: c,
            heredocs: h,
        } => {
            let mut out = String::from("RUN");
            if !f.is_empty() {
                write!(out, " {}", flags(f)).unwrap();
            }
            write!(out, " {}", command(c)).unwrap();
            if !h.is_empty() {
                write!(out, " {}", heredocs(h)).unwrap();
            }
            out
        }
        Kind::Cmd(c) => format!("CMD {}", command(c)),
        Kind::Entrypoint(c) => format!("ENTRYPOINT {}", command(c)),
        Kind::Env(p) => format!("ENV {}", pairs(p)),
        Kind::Label(p) => format!("LABEL {}", pairs(p)),
        Kind::Arg(decls) => {
            let parts: Vec<String> = decls
                .iter()
                .map(|d| match &d.default {
                    Some(v) => format!("{}={v:?}", d.name.escape_debug()),
                    None => d.name.escape_debug().to_string(),
                })
                .collect();
            format!("ARG {}", parts.join(" "))
        }
        Kind::Expose(v) => format!("EXPOSE {v:?}"),
        Kind::Volume(v) => format!("VOLUME {v:?}"),
        Kind::User(s) => format!("USER {s:?}"),
        Kind::Workdir(s) => format!("WORKDIR {s:?}"),
        Kind::Stopsignal(s) => format!("STOPSIGNAL {s:?}"),
        Kind::Maintainer(s) => format!("MAINTAINER {s:?}"),
        Kind::Copy(c) => copy(c),
        Kind::Onbuild(inner) => format!(
            "ONBUILD trigger={:?} {}",
            inner.source.text,
            kind(&inner.kind)
        ),
        Kind::Healthcheck(None) => "HEALTHCHECK NONE".into(),
        Kind::Healthcheck(Some(h)) => {
            format!("HEALTHCHECK {} {}", flags(&h.flags), command(&h.command))
        }
        Kind::Shell(v) => format!("SHELL {v:?}"),
    }
}

/// The whole file, one line per directive, meta ARG, stage and
/// instruction.
fn render(d: &Dockerfile) -> String {
    let mut out = String::new();
    writeln!(out, "DIRECTIVE escape={:?}", d.directives.escape).unwrap();
    if let Some(s) = &d.directives.syntax {
        writeln!(out, "DIRECTIVE syntax={s:?}").unwrap();
    }
    for a in &d.meta_args {
        match &a.default {
            Some(v) => writeln!(out, "META_ARG {}={v:?}", a.name.escape_debug()).unwrap(),
            None => writeln!(out, "META_ARG {}", a.name.escape_debug()).unwrap(),
        }
    }
    let opt = |o: &Option<String>| o.as_ref().map_or("-".to_string(), |s| format!("{s:?}"));
    for s in &d.stages {
        writeln!(
            out,
            "L{} STAGE base={:?} name={} platform={}",
            s.from.line,
            s.base,
            opt(&s.name),
            opt(&s.platform)
        )
        .unwrap();
        for i in &s.instructions {
            writeln!(out, "L{} {}", i.source.line, kind(&i.kind)).unwrap();
        }
    }
    out
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".Dockerfile"))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_parses_as_docker_does() {
    let bless = std::env::var_os("BLESS").is_some();
    let files = corpus();
    assert!(files.len() >= 16, "corpus went missing: {files:?}");
    let mut failures = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".Dockerfile");
        let text = std::fs::read_to_string(&path).unwrap();
        let expected_path = path.with_file_name(format!("{stem}.expected"));
        let error_path = path.with_file_name(format!("{stem}.error"));
        let (got, want_path) = match build::parse(&text, &name) {
            Ok(d) => (render(&d), expected_path),
            Err(e) => (format!("{e}\n"), error_path),
        };
        if bless {
            std::fs::write(&want_path, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&want_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: {} differs\n--- want\n{want}--- got\n{got}",
                want_path.display()
            )),
            Err(_) => failures.push(format!(
                "{name}: no {} (parser said)\n{got}",
                want_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
