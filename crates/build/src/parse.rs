//! The Dockerfile parser.
//!
//! A port of moby's `frontend/dockerfile/parser` (the line reader:
//! directives, comments, continuations, here-documents) and of the checks
//! in BuildKit's `frontend/dockerfile/instructions/parse.go`, keeping
//! Docker's error messages so users see what `docker build` would say.
//! <https://docs.docker.com/reference/dockerfile/>
//!
//! Reading goes line by line, as moby's does:
//! - parser directives (`# escape=`, `# syntax=`, `# check=`) are read
//!   only until the first line that is not one (blank, comment,
//!   instruction);
//! - a line whose first non-blank is `#` is a comment, also between the
//!   lines of a continued instruction;
//! - the escape character at the end of a line (trailing blanks allowed)
//!   continues it; blank and comment lines inside do not end it;
//! - a RUN/COPY/ADD line (also under ONBUILD) naming `<<EOF` words is
//!   followed by their bodies, one after the other, each up to its
//!   terminator line.

mod instruction;
mod words;

use instruction::{Fail, Step};
use words::{extract_flags, heredocs_in, parse_json, split_keyword, Json};

use crate::{Directives, Dockerfile, Error, Heredoc, Instruction, Kind, Source, Stage};

/// The largest Dockerfile accepted: Docker's own are a few KiB, and the
/// text is held whole, so a hostile build context must not make it
/// unbounded.
pub const MAX_DOCKERFILE_BYTES: usize = 4 << 20;
/// The longest line accepted (a quarter of the file limit: a generated
/// one-line RUN can be long, but not that long).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The most instructions accepted: each becomes a build step and a cache
/// key, so their number is bounded before any is run.
pub const MAX_INSTRUCTIONS: usize = 100_000;

/// Parses a Dockerfile's text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Dockerfile, Error> {
    let error = |line: usize, column: usize, message: String| Error {
        file: file.to_string(),
        line,
        column,
        message,
    };
    if text.len() > MAX_DOCKERFILE_BYTES {
        return Err(error(
            1,
            1,
            format!(
                "Dockerfile is {} bytes, over the limit of {MAX_DOCKERFILE_BYTES} bytes",
                text.len()
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Lines keep a `\r` before their `\n`: heredoc bodies keep it, as
    // BuildKit's do; everything else trims it.
    let lines: Vec<&str> = text.split('\n').collect();
    if let Some(i) = lines.iter().position(|l| l.len() > MAX_LINE_BYTES) {
        return Err(error(
            i + 1,
            1,
            format!(
                "line is {} bytes, over the limit of {MAX_LINE_BYTES} bytes",
                lines[i].len()
            ),
        ));
    }
    let mut reader = Reader {
        lines,
        next: 0,
        directives: DirectiveReader::default(),
    };
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut count = 0;
    while let Some(logical) = reader.next_instruction().map_err(|(l, m)| error(l, 1, m))? {
        count += 1;
        if count > MAX_INSTRUCTIONS {
            return Err(error(
                logical.line,
                1,
                format!("more than {MAX_INSTRUCTIONS} instructions"),
            ));
        }
        let escape = reader.directives.escape;
        let at = |fail: Fail| {
            let column = match fail.at {
                Some(at) if at < logical.first_len => logical.text[..at].chars().count(),
                _ => 0,
            };
            error(logical.line, logical.indent + column + 1, fail.message)
        };
        let source = Source {
            line: logical.line,
            text: logical.text.clone(),
        };
        match instruction::instruction(&logical.text, logical.heredocs, escape).map_err(at)? {
            // A repeated stage name is only a lint warning in BuildKit
            // (DuplicateStageName), so it is accepted here too.
            Step::From {
                base,
                name,
                platform,
            } => {
                stages.push(Stage {
                    base,
                    name,
                    platform,
                    from: source,
                    instructions: Vec::new(),
                });
            }
            Step::Instr(Kind::Arg(decls)) if stages.is_empty() => meta_args.extend(decls),
            Step::Instr(mut kind) => {
                if let Kind::Onbuild(inner) = &mut kind {
                    inner.source.line = logical.line;
                }
                let Some(stage) = stages.last_mut() else {
                    return Err(at(Fail {
                        at: None,
                        message: "no build stage in current context".into(),
                    }));
                };
                stage.instructions.push(Instruction { source, kind });
            }
        }
    }
    if count == 0 {
        return Err(error(1, 1, "file with no instructions".into()));
    }
    if stages.is_empty() {
        return Err(error(1, 1, "dockerfile contains no stages to build".into()));
    }
    Ok(Dockerfile {
        directives: reader.directives.into_directives(),
        meta_args,
        stages,
    })
}

/// One instruction as read: its lines joined, its heredocs' bodies.
struct Logical {
    /// 1-based first line.
    line: usize,
    /// Characters of indentation before the keyword.
    indent: usize,
    /// Bytes of `text` that come from the first line (columns beyond it
    /// are not reported, as continuations moved them).
    first_len: usize,
    /// moby's `Node.Original`: continuations joined, comments dropped.
    text: String,
    heredocs: Vec<Heredoc>,
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    next: usize,
    directives: DirectiveReader,
}

impl<'a> Reader<'a> {
    /// The next line, without its line end.
    fn take_line(&mut self) -> Option<&'a str> {
        self.take_raw_line().map(|l| l.trim_end_matches('\r'))
    }

    /// The next line, with the `\r` of a CRLF end if there is one.
    fn take_raw_line(&mut self) -> Option<&'a str> {
        let line = self.lines.get(self.next).copied();
        self.next += 1;
        line
    }

    /// The next instruction, or `None` at the end; errors carry a line.
    fn next_instruction(&mut self) -> Result<Option<Logical>, (usize, String)> {
        loop {
            let Some(raw) = self.take_line() else {
                return Ok(None);
            };
            let line_no = self.next;
            let trimmed = raw.trim_start();
            self.directives
                .read(trimmed)
                .map_err(|message| (line_no, message))?;
            let escape = self.directives.escape;
            let content = if trimmed.starts_with('#') {
                ""
            } else {
                trimmed
            };
            let (first, mut ended) = trim_continuation(content, escape);
            if ended && first.is_empty() {
                continue;
            }
            let mut text = first.to_string();
            let first_len = text.len();
            while !ended {
                let Some(raw) = self.take_line() else { break };
                if raw.trim_start().starts_with('#') || raw.trim().is_empty() {
                    continue;
                }
                let (more, end) = trim_continuation(raw, escape);
                text.push_str(more);
                ended = end;
            }
            if text.trim().is_empty() {
                // Only escapes, blank and comment lines: nothing to run.
                continue;
            }
            let mut heredocs = Vec::new();
            if heredoc_capable(&text, escape) {
                for (mut heredoc, chomp) in heredocs_in(&text) {
                    heredoc.content = self
                        .heredoc_body(&heredoc.name, chomp)
                        .ok_or_else(|| (line_no, "unterminated heredoc".to_string()))?;
                    heredocs.push(heredoc);
                }
            }
            return Ok(Some(Logical {
                line: line_no,
                indent: raw.chars().count() - trimmed.chars().count(),
                first_len,
                text,
                heredocs,
            }));
        }
    }

    /// The lines up to `name` alone on a line (after leading tabs, for
    /// `<<-`, whose body also loses them).
    fn heredoc_body(&mut self, name: &str, chomp: bool) -> Option<String> {
        let mut body = String::new();
        loop {
            let raw = self.take_raw_line()?;
            let line = raw.trim_end_matches('\r');
            let (line, raw) = if chomp {
                (line.trim_start_matches('\t'), raw.trim_start_matches('\t'))
            } else {
                (line, raw)
            };
            if line == name {
                return Some(body);
            }
            body.push_str(raw);
            body.push('\n');
        }
    }
}

/// BuildKit's `trimContinuationCharacter`: a line ending in the escape
/// character (then only spaces or tabs) continues on the next, unless
/// that escape is itself escaped (`c:\\` ends the line) — BuildKit's
/// regexp `([^\\])\\[ \t]*$|^\\[ \t]*$`, for either escape.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    match line.trim_end_matches([' ', '\t']).strip_suffix(escape) {
        Some(joined) if !joined.ends_with(escape) => (joined, false),
        _ => (line, true),
    }
}

/// moby's `canContainHeredoc`: RUN, COPY and ADD (also as an ONBUILD
/// trigger) in shell form.
fn heredoc_capable(line: &str, escape: char) -> bool {
    let split = |s: &str| -> (String, String) {
        let (k, r) = split_keyword(s);
        (k.to_lowercase(), r.to_string())
    };
    let (mut keyword, mut rest) = split(line);
    if keyword == "onbuild" {
        (keyword, rest) = split(&rest);
    }
    if !matches!(keyword.as_str(), "run" | "copy" | "add") {
        return false;
    }
    !matches!(parse_json(extract_flags(&rest, escape).1), Json::Strings(_))
}

/// Parser directives as read so far (moby's `directives`).
struct DirectiveReader {
    done: bool,
    seen: Vec<String>,
    escape: char,
    syntax: Option<String>,
}

impl Default for DirectiveReader {
    fn default() -> Self {
        DirectiveReader {
            done: false,
            seen: Vec::new(),
            escape: '\\',
            syntax: None,
        }
    }
}

impl DirectiveReader {
    /// Reads a (left-trimmed) line while directives may still come:
    /// `#\s*key\s*=\s*value`, key a known one, each at most once.
    fn read(&mut self, line: &str) -> Result<(), String> {
        if self.done {
            return Ok(());
        }
        let Some((key, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let key = key.to_lowercase();
        if !matches!(key.as_str(), "escape" | "syntax" | "check") {
            self.done = true;
            return Ok(());
        }
        if self.seen.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        match key.as_str() {
            "escape" => {
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(format!(
                            "invalid escape token '{value}' does not match ` or \\"
                        ))
                    }
                }
            }
            "syntax" => self.syntax = Some(value.to_string()),
            // `# check=skip=…;error=true` configures BuildKit's linter,
            // which berth does not run; it is checked as BuildKit's
            // `ParseLintOptions` checks it, and not kept.
            _ => check_options(value)?,
        }
        self.seen.push(key);
        Ok(())
    }

    fn into_directives(self) -> Directives {
        Directives {
            escape: self.escape,
            syntax: self.syntax,
        }
    }
}

/// BuildKit's `ParseLintOptions`: up to three `key=value` parts split by
/// `;`, keys `skip`, `experimental` and `error` (a Go boolean).
fn check_options(value: &str) -> Result<(), String> {
    for part in value.trim().splitn(3, ';') {
        let Some((key, v)) = part.split_once('=') else {
            return Err(format!("invalid check option {part:?}"));
        };
        match key.trim() {
            "skip" | "experimental" => {}
            "error" => {
                let v = v.trim();
                if !matches!(
                    v,
                    "1" | "t"
                        | "T"
                        | "TRUE"
                        | "true"
                        | "True"
                        | "0"
                        | "f"
                        | "F"
                        | "FALSE"
                        | "false"
                        | "False"
                ) {
                    return Err(format!(
                        "failed to parse check option {part:?}: strconv.ParseBool: parsing {v:?}: invalid syntax"
                    ));
                }
            }
            other => return Err(format!("invalid check option {other:?}")),
        }
    }
    Ok(())
}

/// moby's `reDirective`: `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let key_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let (key, rest) = rest.split_at(key_len);
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest.trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then_some((key, value))
}
