//! One instruction line (continuations joined, heredoc bodies read) into
//! its AST node: moby's `newNodeFromLine` (word splitting) and the checks
//! of BuildKit's `instructions/parse.go`, with Docker's messages.

use std::collections::HashMap;

use super::words::{
    extract_flags, heredoc_marker, is_go_blank, parse_json, parse_words, split_keyword, suggest,
    Json,
};
use crate::{ArgDecl, Command, CopySpec, Flags, Healthcheck, Heredoc, Kind};

/// The instructions Docker knows, lower-case.
pub(super) const KEYWORDS: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// What a line is: a stage's start, or an instruction inside one.
#[derive(Debug)]
pub(super) enum Step {
    /// `FROM`.
    From {
        base: String,
        name: Option<String>,
        platform: Option<String>,
    },
    /// Anything else.
    Instr(Kind),
}

/// A rejected line: what is wrong and, if known, the byte offset in the
/// line where it starts (for the column).
#[derive(Debug)]
pub(super) struct Fail {
    pub(super) at: Option<usize>,
    pub(super) message: String,
}

fn fail<T>(message: impl Into<String>) -> Result<T, Fail> {
    Err(Fail {
        at: None,
        message: message.into(),
    })
}

#[derive(Clone, Copy, PartialEq)]
enum FlagKind {
    /// `--link`, `--link=false`.
    Bool,
    /// `--from=x`, once.
    Str,
    /// `--mount=…`, any number of times.
    List,
}

use FlagKind::{Bool, List, Str};

const RUN_FLAGS: &[(&str, FlagKind)] = &[
    ("mount", List),
    ("network", Str),
    ("security", Str),
    ("device", List),
];
const FROM_FLAGS: &[(&str, FlagKind)] = &[("platform", Str)];
// As BuildKit's parseCopy and parseAdd: `--from`/`--parents` are COPY's,
// `--checksum`/`--keep-git-dir` ADD's.
const COPY_FLAGS: &[(&str, FlagKind)] = &[
    ("from", Str),
    ("chown", Str),
    ("chmod", Str),
    ("link", Bool),
    ("parents", Bool),
    ("exclude", List),
];
const ADD_FLAGS: &[(&str, FlagKind)] = &[
    ("chown", Str),
    ("chmod", Str),
    ("link", Bool),
    ("exclude", List),
    ("checksum", Str),
    ("keep-git-dir", Bool),
    ("unpack", Bool),
];
const HEALTHCHECK_FLAGS: &[(&str, FlagKind)] = &[
    ("interval", Str),
    ("timeout", Str),
    ("start-period", Str),
    ("start-interval", Str),
    ("retries", Str),
];

/// Parses one instruction line. `heredocs` are the bodies the line
/// opened (RUN, COPY, ADD, or those under ONBUILD).
pub(super) fn instruction(text: &str, heredocs: Vec<Heredoc>, escape: char) -> Result<Step, Fail> {
    let text = text.trim();
    let (keyword, rest) = split_keyword(text);
    let lower = keyword.to_lowercase();
    let upper = keyword.to_uppercase();
    let (raw_flags, rest) = extract_flags(rest, escape);
    let rest = rest.trim();
    let allowed: &[(&str, FlagKind)] = match lower.as_str() {
        "run" => RUN_FLAGS,
        "from" => FROM_FLAGS,
        "copy" => COPY_FLAGS,
        "add" => ADD_FLAGS,
        "healthcheck" => HEALTHCHECK_FLAGS,
        _ => &[],
    };
    if !KEYWORDS.contains(&lower.as_str()) {
        let hint = suggest(keyword, KEYWORDS, true)
            .map(|k| format!(" (did you mean {k}?)"))
            .unwrap_or_default();
        return fail(format!("unknown instruction: {keyword}{hint}"));
    }
    // BuildKit does not look at HEALTHCHECK's flags when it says NONE.
    let none = lower == "healthcheck"
        && rest
            .split_whitespace()
            .next()
            .is_some_and(|t| t.eq_ignore_ascii_case("none"));
    let raw_flags = if none { Vec::new() } else { raw_flags };
    let flags = parse_flags(raw_flags, allowed).map_err(|(flag, message)| Fail {
        at: text.find(&format!("--{flag}")),
        message,
    })?;
    let kind = match lower.as_str() {
        "from" => return from(&flags, rest),
        // BuildKit accepts an empty RUN (the shell then runs nothing).
        "run" => Kind::Run {
            flags,
            command: command(rest)?,
            heredocs,
        },
        "cmd" => Kind::Cmd(command(rest)?),
        "entrypoint" => Kind::Entrypoint(command(rest)?),
        "env" => Kind::Env(name_values(rest, "ENV", escape)?),
        "label" => Kind::Label(name_values(rest, "LABEL", escape)?),
        "arg" => Kind::Arg(args(rest, escape)?),
        "expose" => Kind::Expose(at_least_one(split(rest), "EXPOSE")?),
        "volume" => {
            let volumes = at_least_one(json_or_split(rest)?, "VOLUME")?;
            // Trimmed, and none empty, as BuildKit's parseVolume.
            let volumes: Vec<String> = volumes.iter().map(|v| v.trim().to_string()).collect();
            if volumes.iter().any(String::is_empty) {
                return fail("VOLUME specified can not be an empty string");
            }
            Kind::Volume(volumes)
        }
        "user" => Kind::User(exactly_one(rest, "USER")?),
        "workdir" => Kind::Workdir(exactly_one(rest, "WORKDIR")?),
        "stopsignal" => Kind::Stopsignal(exactly_one(rest, "STOPSIGNAL")?),
        "maintainer" => Kind::Maintainer(exactly_one(rest, "MAINTAINER")?),
        "copy" | "add" => Kind::Copy(copy(&upper, lower == "add", flags, rest, heredocs)?),
        "healthcheck" => healthcheck(flags, rest)?,
        "shell" if rest.is_empty() => return fail("SHELL requires at least one argument"),
        "shell" => match parse_json(rest) {
            Json::Strings(v) if v.is_empty() => {
                return fail("SHELL requires at least one argument")
            }
            Json::Strings(v) => Kind::Shell(v),
            _ => return fail("SHELL requires the arguments to be in JSON form"),
        },
        "onbuild" => onbuild(text, rest, heredocs, escape)?,
        _ => unreachable!("every keyword is handled"),
    };
    Ok(Step::Instr(kind))
}

/// `--name[=value]` words checked against what the instruction takes, as
/// BuildKit's `BFlags.Parse` does, with its messages. A bare boolean flag
/// is stored as `true`.
fn parse_flags(raw: Vec<String>, allowed: &[(&str, FlagKind)]) -> Result<Flags, (String, String)> {
    let mut flags: Flags = Vec::new();
    for word in raw {
        let (flag, value) = match word.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (word.as_str(), None),
        };
        let name = flag.strip_prefix("--").unwrap_or(flag).to_string();
        let err = |message: String| Err((name.clone(), message));
        let Some(&(_, kind)) = allowed.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            let hint = suggest(&name, &names, false)
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default();
            return err(format!("unknown flag: {flag}{hint}"));
        };
        if kind != List && flags.iter().any(|(n, _)| *n == name) {
            return err(format!("duplicate flag specified: {flag}"));
        }
        let value = match (kind, value) {
            (Bool, None) => "true".to_string(),
            (_, Some("")) | (Str | List, None) => {
                return err(format!("missing a value on flag: {flag}"))
            }
            (Bool, Some(v)) if v.eq_ignore_ascii_case("true") => "true".to_string(),
            (Bool, Some(v)) if v.eq_ignore_ascii_case("false") => "false".to_string(),
            (Bool, Some(v)) => {
                return err(format!("expecting boolean value for flag {flag}, not: {v}"))
            }
            (_, Some(v)) => v.to_string(),
        };
        flags.push((name, value));
    }
    Ok(flags)
}

/// `FROM [--platform=p] image [AS name]`.
fn from(flags: &Flags, rest: &str) -> Result<Step, Fail> {
    let words = split(rest);
    let name = match words.as_slice() {
        [_] => None,
        [_, r#as, name] if r#as.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            // BuildKit's `^[a-z][a-z0-9-_.]*$`, where `9-_` is the range
            // from `9` to `_` (so `:;<=>?@[\]^` pass too), as Docker has it.
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || ('0'..='_').contains(&c) || c == '.');
            if !valid {
                return fail(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ));
            }
            Some(lower)
        }
        _ => return fail("FROM requires either one or three arguments"),
    };
    Ok(Step::From {
        base: words[0].clone(),
        name,
        platform: flags.first().map(|(_, v)| v.clone()),
    })
}

/// Exec form if the rest is a JSON array of strings, else shell form
/// (moby's `parseMaybeJSON`).
fn command(rest: &str) -> Result<Command, Fail> {
    match parse_json(rest) {
        Json::Strings(v) => Ok(Command::Exec(v)),
        Json::Invalid => Ok(Command::Shell(rest.to_string())),
        Json::Mixed => {
            fail("when using JSON array syntax, arrays must be comprised of strings only")
        }
    }
}

/// Blank-separated words, quotes not considered
/// (`parseStringsWhitespaceDelimited`, blanks as [`is_go_blank`]).
fn split(rest: &str) -> Vec<String> {
    rest.split(is_go_blank)
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// `parseMaybeJSONToList`: a JSON array, or whitespace-separated words.
fn json_or_split(rest: &str) -> Result<Vec<String>, Fail> {
    match parse_json(rest) {
        Json::Strings(v) => Ok(v),
        Json::Invalid => Ok(split(rest)),
        Json::Mixed => {
            fail("when using JSON array syntax, arrays must be comprised of strings only")
        }
    }
}

fn at_least_one(words: Vec<String>, keyword: &str) -> Result<Vec<String>, Fail> {
    if words.is_empty() {
        return fail(format!("{keyword} requires at least one argument"));
    }
    Ok(words)
}

/// USER, WORKDIR, STOPSIGNAL, MAINTAINER take the rest of the line whole
/// (`parseString`).
fn exactly_one(rest: &str, keyword: &str) -> Result<String, Fail> {
    if rest.is_empty() {
        return fail(format!("{keyword} requires exactly one argument"));
    }
    Ok(rest.to_string())
}

/// ENV and LABEL (moby's `parseNameVal`): `k=v …`, or the old `k v w`
/// (one pair, the value the rest of the line). Values keep their quotes.
fn name_values(rest: &str, keyword: &str, escape: char) -> Result<Vec<(String, String)>, Fail> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return fail(format!("{keyword} requires at least one argument"));
    };
    if !first.contains('=') {
        let Some((name, value)) = rest.split_once(is_go_blank) else {
            return fail(format!("{keyword} must have two arguments"));
        };
        let value = value.trim_start_matches(is_go_blank);
        return Ok(vec![(name.to_string(), value.to_string())]);
    }
    let mut pairs = Vec::new();
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            return fail(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ));
        };
        if name.is_empty() {
            return fail(format!("{keyword} names can not be blank"));
        }
        pairs.push((name.to_string(), value.to_string()));
    }
    Ok(pairs)
}

/// `ARG a[=b] …`.
fn args(rest: &str, escape: char) -> Result<Vec<ArgDecl>, Fail> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return fail("ARG requires at least one argument");
    }
    words
        .into_iter()
        .map(|w| {
            let (name, default) = match w.split_once('=') {
                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                None => (w, None),
            };
            if name.is_empty() {
                return fail("ARG names can not be blank");
            }
            Ok(ArgDecl { name, default })
        })
        .collect()
}

/// COPY and ADD (BuildKit's `parseSourcesAndDest`): the last word is the
/// destination; `<<NAME` sources are the line's here-documents.
fn copy(
    keyword: &str,
    add: bool,
    flags: Flags,
    rest: &str,
    heredocs: Vec<Heredoc>,
) -> Result<CopySpec, Fail> {
    let mut words = json_or_split(rest)?;
    if words.len() < 2 {
        return fail(format!(
            "{keyword} requires at least two arguments, but only one was provided. Destination could not be determined"
        ));
    }
    let dest = words.pop().unwrap_or_default();
    if heredoc_marker(&dest).is_some() {
        return fail(format!(
            "{keyword} cannot accept a heredoc as a destination"
        ));
    }
    // By name, the last of a name winning, as BuildKit's map does; a map
    // keeps a line of many heredocs linear.
    let by_name: HashMap<&str, &Heredoc> = heredocs.iter().map(|h| (h.name.as_str(), h)).collect();
    let mut sources = Vec::new();
    let mut used = Vec::new();
    for word in words {
        match heredoc_marker(&word).filter(|_| !heredocs.is_empty()) {
            Some((marker, _)) => {
                used.extend(by_name.get(marker.name.as_str()).map(|h| (*h).clone()))
            }
            None => sources.push(word),
        }
    }
    Ok(CopySpec {
        add,
        flags,
        sources,
        heredocs: used,
        dest,
    })
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [flags] CMD …`, the durations and
/// retries checked as BuildKit checks them (and its flags ignored with
/// NONE, as there).
fn healthcheck(flags: Flags, rest: &str) -> Result<Kind, Fail> {
    let (typ, cmd) = rest
        .split_once(|c: char| c.is_whitespace())
        .unwrap_or((rest, ""));
    let cmd = cmd.trim();
    match typ.to_uppercase().as_str() {
        "" => return fail("HEALTHCHECK requires at least one argument"),
        "NONE" if !cmd.is_empty() => return fail("HEALTHCHECK NONE takes no arguments"),
        "NONE" => return Ok(Kind::Healthcheck(None)),
        "CMD" if cmd.is_empty() => return fail("Missing command after HEALTHCHECK CMD"),
        "CMD" => {}
        _ => return fail(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)")),
    }
    for (name, value) in &flags {
        if name == "retries" {
            match value.parse::<i32>() {
                Ok(n) if n < 0 => return fail(format!("--retries cannot be negative ({n})")),
                Ok(_) => {}
                Err(_) => {
                    return fail(format!(
                        "strconv.ParseInt: parsing {value:?}: invalid syntax"
                    ))
                }
            }
        } else {
            match crate::duration::go_nanos(value) {
                None => return fail(format!("time: invalid duration {value:?}")),
                Some(n) if n != 0.0 && n < 1e6 => {
                    return fail(format!("Interval {name:?} cannot be less than 1ms"))
                }
                Some(_) => {}
            }
        }
    }
    Ok(Kind::Healthcheck(Some(Healthcheck {
        flags,
        command: command(cmd)?,
    })))
}

/// `ONBUILD <instruction>`: the trigger parsed as an instruction of its
/// own (its text without `ONBUILD`, as BuildKit stores it).
fn onbuild(text: &str, rest: &str, heredocs: Vec<Heredoc>, escape: char) -> Result<Kind, Fail> {
    let trigger = split_keyword(rest).0.to_uppercase();
    match trigger.as_str() {
        "" => return fail("ONBUILD requires at least one argument"),
        "ONBUILD" => return fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        "FROM" | "MAINTAINER" => {
            return fail(format!("{trigger} isn't allowed as an ONBUILD trigger"))
        }
        _ => {}
    }
    // The trigger as BuildKit stores it (`OnbuildCommand.Expression`):
    // with its here-documents' bodies and terminators after it, so that a
    // build FROM this image can parse it again. (A `<<-` body is stored
    // with its tabs already removed, which reads back the same.)
    let mut stored = rest.to_string();
    for heredoc in &heredocs {
        stored.push('\n');
        stored.push_str(&heredoc.content);
        stored.push_str(&heredoc.name);
    }
    let offset = text.len() - rest.len();
    let inner = instruction(rest, heredocs, escape).map_err(|f| Fail {
        at: f.at.map(|a| a + offset),
        message: f.message,
    })?;
    match inner {
        Step::Instr(kind) => Ok(Kind::Onbuild(Box::new(crate::Instruction {
            source: crate::Source {
                line: 0, // filled in by the caller, which knows the line
                text: stored,
            },
            kind,
        }))),
        Step::From { .. } => fail("FROM isn't allowed as an ONBUILD trigger"),
    }
}
