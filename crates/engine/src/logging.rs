//! A container's log: the drivers berth has (`json-file`, Docker's
//! `local` format, `none`), their options checked as dockerd checks them
//! (moby `daemon/logger/factory.go` `ValidateLogOpts`, the drivers'
//! `ValidateLogOpt` and `New`, with their words), the settings handed to
//! the shim (`log-opts.json`, which writes and rotates the file), and the
//! reading back for `logs` and `attach`.
//!
//! On disk, in the container's directory: `ctr.log` (the current file),
//! `ctr.log.1` … (rotated, newest first), `ctr.log.N.gz` when compressed.
//! json-file writes Docker's JSON lines; local writes Docker's frames:
//! `[u32 BE size][protobuf LogEntry][u32 BE size]` (moby
//! `daemon/logger/local`), with `LogEntry { string source = 1; int64
//! time_nano = 2; bytes line = 3; bool partial = 4; }`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use models::container::LogConfig;
use serde_json::Value;

use crate::container::record::{ContainerRecord, LogLine};
use crate::{Engine, EngineError, ErrorKind};

/// The drivers Docker registers on Linux that berth does not have.
const DOCKER_ONLY: &[&str] = &[
    "awslogs",
    "fluentd",
    "gcplogs",
    "gelf",
    "journald",
    "logentries",
    "splunk",
    "syslog",
];

/// Bound on `max-file`: the shim renames that many files on a rotation.
const MAX_FILES: u64 = 1000;

/// Bound on a rotated file read back whole (a `max-size` beyond it is
/// refused): a compressed file cannot be read from an offset.
const MAX_SIZE: u64 = 1 << 40;

/// The local driver's defaults (moby `daemon/logger/local/local.go`).
const LOCAL_MAX_SIZE: u64 = 20 * 1024 * 1024;
const LOCAL_MAX_FILE: u64 = 5;

/// A container's logging, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `json-file`, `local` or `none`.
    pub driver: String,
    /// Rotate past this many bytes (0: never).
    pub max_size: u64,
    /// Files kept, the current one included.
    pub max_file: u64,
    /// gzip the rotated files.
    pub compress: bool,
    /// json-file's `attrs` (from `labels`, `env`, `tag` and their regexes).
    pub attrs: BTreeMap<String, String>,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// go-units' `FromHumanSize`: decimal units (`10k` is 10000, `1m` is
/// 10⁶, `1MiB` is 2²⁰), a number with an optional fraction.
pub fn from_human_size(s: &str) -> Option<i64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024f64.powi(4),
        "pib" => 1024f64.powi(5),
        _ => return None,
    };
    let v = n * mult;
    (v.is_finite() && v < i64::MAX as f64).then_some(v as i64)
}

/// Checks `HostConfig.LogConfig` (`Type` and `Config`) at create: the
/// driver exists, its options are its own, their values parse.
pub fn settings(log_config: &LogConfig) -> Result<LogSettings, EngineError> {
    let driver = match log_config.typ.as_str() {
        "" => "json-file",
        d => d,
    };
    let cfg: BTreeMap<String, String> = log_config.config.clone().unwrap_or_default();
    let mut out = LogSettings {
        driver: driver.to_string(),
        max_size: 0,
        max_file: 1,
        compress: false,
        attrs: BTreeMap::new(),
    };
    if driver == "none" {
        return Ok(out);
    }
    check_options(driver, &cfg)?;
    if driver == "local" {
        local_rotation(&cfg, &mut out)?;
    } else {
        json_file_rotation(&cfg, &mut out)?;
    }
    // Without max-size nothing rotates, whatever max-file says (Docker's).
    if out.max_size == 0 {
        out.max_file = 1;
    }
    if out.max_file > MAX_FILES || out.max_size > MAX_SIZE {
        return Err(LogError::Invalid(format!(
            "LogConfig: berth keeps at most {MAX_FILES} files of at most {MAX_SIZE} bytes"
        ))
        .into());
    }
    Ok(out)
}

/// The options every driver takes (moby `builtInLogOpts`), the drivers
/// berth lacks, and the options that are not the driver's own.
fn check_options(driver: &str, cfg: &BTreeMap<String, String>) -> Result<(), EngineError> {
    // The options every driver takes (moby `builtInLogOpts`).
    match cfg.get("mode").map(String::as_str).unwrap_or("") {
        "" | "blocking" => {}
        "non-blocking" => return Err(LogError::Invalid("LogConfig: mode=non-blocking is not supported by berth: its shim writes each read of the container's output to the log as it comes (mode=blocking)".into()).into()),
        m => return Err(LogError::Invalid(format!("logger: logging mode not supported: {m}")).into()),
    }
    if cfg.contains_key("max-buffer-size") {
        return Err(LogError::Invalid(
            "logger: max-buffer-size option is only supported with 'mode=non-blocking'".into(),
        )
        .into());
    }
    if DOCKER_ONLY.contains(&driver) {
        return Err(LogError::Invalid(format!(
            "logging driver {driver:?} is not supported by berth (json-file, local and none are)"
        ))
        .into());
    }
    let own: &[&str] = match driver {
        "json-file" => &[
            "max-file",
            "max-size",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "tag",
        ],
        "local" => &["max-file", "max-size", "compress"],
        other => {
            return Err(LogError::Invalid(format!(
                "logger: no log driver named '{other}' is registered"
            ))
            .into())
        }
    };
    for key in cfg
        .keys()
        .filter(|k| !["mode", "max-buffer-size"].contains(&k.as_str()))
    {
        if !own.contains(&key.as_str()) {
            return Err(LogError::Invalid(
                if driver == "local" {
                    format!("unknown log opt '{key}' for log driver local")
                } else {
                    format!("unknown log opt '{key}' for json-file log driver")
                }
                .to_string(),
            )
            .into());
        }
    }
    Ok(())
}

/// The local driver's rotation options, its defaults where not given.
fn local_rotation(
    cfg: &BTreeMap<String, String>,
    out: &mut LogSettings,
) -> Result<(), EngineError> {
    let size = cfg.get("max-size");
    let file = cfg.get("max-file");
    let compress = cfg.get("compress");
    out.max_size = match size {
        None => LOCAL_MAX_SIZE,
        Some(s) => {
            let n = from_human_size(s).ok_or_else(|| {
                LogError::Invalid(format!(
                    "invalid value for max-size: {s}: invalid size: '{s}'"
                ))
            })?;
            if n < 0 {
                return Err(
                    LogError::Invalid("max size should be a positive number".into()).into(),
                );
            }
            n as u64
        }
    };
    out.max_file = match file {
        None => LOCAL_MAX_FILE,
        Some(s) => {
            let n: i64 = s.parse().map_err(|_| {
                LogError::Invalid(format!(
                    "invalid value for max-file: {s}: strconv.Atoi: parsing {s:?}: invalid syntax"
                ))
            })?;
            if n < 0 {
                return Err(
                    LogError::Invalid("max file count cannot be less than 0".into()).into(),
                );
            }
            n.max(1) as u64
        }
    };
    out.compress = match compress {
        None => true,
        Some(s) => parse_bool(s).ok_or_else(|| {
            LogError::Invalid(format!("error reading compress log option: strconv.ParseBool: parsing {s:?}: invalid syntax"))
        })?,
    };
    if out.compress && out.max_file <= 1 {
        return Err(LogError::Invalid(
            "compression cannot be enabled when max file count is 1".into(),
        )
        .into());
    }
    Ok(())
}

/// json-file's rotation options, with its words for bad values.
fn json_file_rotation(
    cfg: &BTreeMap<String, String>,
    out: &mut LogSettings,
) -> Result<(), EngineError> {
    let size = cfg.get("max-size");
    let file = cfg.get("max-file");
    let compress = cfg.get("compress");
    if let Some(s) = size {
        let n =
            from_human_size(s).ok_or_else(|| LogError::Invalid(format!("invalid size: '{s}'")))?;
        if n <= 0 {
            return Err(LogError::Invalid("max-size must be a positive number".into()).into());
        }
        out.max_size = n as u64;
    }
    if let Some(s) = file {
        let n: i64 = s.parse().map_err(|_| {
            LogError::Invalid(format!("strconv.Atoi: parsing {s:?}: invalid syntax"))
        })?;
        if n < 1 {
            return Err(LogError::Invalid("max-file cannot be less than 1".into()).into());
        }
        out.max_file = n as u64;
    }
    if let Some(s) = compress {
        out.compress = parse_bool(s).ok_or_else(|| {
            LogError::Invalid(format!("strconv.ParseBool: parsing {s:?}: invalid syntax"))
        })?;
        if out.compress && (out.max_file == 1 || out.max_size == 0) {
            return Err(LogError::Invalid(
                "compress cannot be true when max-file is less than 2 or max-size is not set"
                    .into(),
            )
            .into());
        }
    }
    Ok(())
}

/// json-file's `attrs`, as moby's `Info.ExtraAttributes` and the `tag`
/// template (`{{.ID}}`, `{{.FullID}}`, `{{.Name}}`, `{{.ImageID}}`,
/// `{{.ImageFullID}}`, `{{.ImageName}}`, `{{.DaemonName}}`).
pub fn attrs(c: &ContainerRecord) -> Result<BTreeMap<String, String>, EngineError> {
    let opts = c
        .config
        .host_config
        .log_config
        .config
        .clone()
        .unwrap_or_default();
    let opt = |k: &str| opts.get(k).cloned().unwrap_or_default();
    let mut out = BTreeMap::new();
    let labels: BTreeMap<String, String> = c.config.config.labels.clone().unwrap_or_default();
    let env: Vec<(String, String)> = c
        .config
        .config
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('=').map(|(k, v)| (k.into(), v.into())))
        .collect();
    for key in opt("labels").split(',').filter(|k| !k.is_empty()) {
        if let Some(v) = labels.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    for key in opt("env").split(',').filter(|k| !k.is_empty()) {
        if let Some((_, v)) = env.iter().find(|(k, _)| k == key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    let regex = |k: &str| -> Result<Option<regex::Regex>, EngineError> {
        match opt(k) {
            s if s.is_empty() => Ok(None),
            s => regex::Regex::new(&s)
                .map(Some)
                .map_err(|e| LogError::Invalid(format!("error parsing regexp: {e}")))
                .map_err(EngineError::from),
        }
    };
    if let Some(re) = regex("labels-regex")? {
        for (k, v) in labels.iter().filter(|(k, _)| re.is_match(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    if let Some(re) = regex("env-regex")? {
        for (k, v) in env.iter().filter(|(k, _)| re.is_match(k)) {
            out.insert(k.clone(), v.clone());
        }
    }
    let tag = opt("tag");
    if !tag.is_empty() {
        let short = |s: &str| {
            s.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>()
        };
        let mut rendered = tag.clone();
        for (field, value) in [
            ("ID", short(&c.id)),
            ("FullID", c.id.clone()),
            ("Name", c.name.clone()),
            ("ImageID", short(&c.image)),
            ("ImageFullID", c.image.clone()),
            ("ImageName", c.image_name.clone()),
            ("DaemonName", "docker".to_string()),
        ] {
            for form in [format!("{{{{.{field}}}}}"), format!("{{{{ .{field} }}}}")] {
                rendered = rendered.replace(&form, &value);
            }
        }
        if rendered.contains("{{") {
            return Err(LogError::Invalid(format!(
                "LogConfig: tag {tag:?}: berth's templates know .ID, .FullID, .Name, .ImageID, .ImageFullID, .ImageName and .DaemonName"
            )).into());
        }
        out.insert("tag".into(), rendered);
    }
    Ok(out)
}

/// What the shim reads from `log-opts.json`.
pub fn shim_options(s: &LogSettings) -> models::log::LogOptions {
    models::log::LogOptions {
        driver: s.driver.clone(),
        path: String::new(),
        max_size: s.max_size,
        max_file: s.max_file,
        compress: s.compress,
        attrs: s.attrs.clone(),
    }
}

/// json-file lines into `out`.
fn parse_json_lines(data: &[u8], out: &mut Vec<LogLine>) {
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap_or_default();
        let stream = if v["stream"] == "stderr" { 2 } else { 1 };
        out.push(LogLine {
            stream,
            data: v["log"].as_str().unwrap_or("").as_bytes().to_vec(),
            time: v["time"].as_str().unwrap_or("").to_string(),
        });
    }
}

/// Reads a protobuf varint at `*at`.
fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// One `LogEntry` as a line (the newline back on a whole line).
fn decode_entry(buf: &[u8]) -> Option<LogLine> {
    let (mut source, mut nanos, mut line, mut partial) = (String::new(), 0i64, Vec::new(), false);
    let mut at = 0;
    while at < buf.len() {
        let key = varint(buf, &mut at)?;
        match (key >> 3, key & 7) {
            (_, 0) => {
                let v = varint(buf, &mut at)?;
                match key >> 3 {
                    2 => nanos = v as i64,
                    4 => partial = v != 0,
                    _ => {}
                }
            }
            (field, 2) => {
                let len = varint(buf, &mut at)? as usize;
                let bytes = buf.get(at..at.checked_add(len)?)?;
                at += len;
                match field {
                    1 => source = String::from_utf8_lossy(bytes).into_owned(),
                    3 => line = bytes.to_vec(),
                    _ => {}
                }
            }
            (_, 1) => at += 8,
            (_, 5) => at += 4,
            _ => return None,
        }
    }
    if !partial {
        line.push(b'\n');
    }
    Some(LogLine {
        stream: if source == "stderr" { 2 } else { 1 },
        data: line,
        time: crate::time::from_unix_nanos(nanos),
    })
}

/// Bound on one local entry (Docker's are 16 KiB lines plus a header).
const MAX_ENTRY: usize = 1 << 20;

/// local frames into `out`; the bytes of whole frames read.
fn parse_frames(data: &[u8], out: &mut Vec<LogLine>) -> usize {
    let mut at = 0;
    while let Some(head) = data.get(at..at + 4) {
        let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if size > MAX_ENTRY {
            break;
        }
        let Some(entry) = data.get(at + 4..at + 4 + size) else {
            break;
        };
        if data.len() < at + 8 + size {
            break;
        }
        if let Some(l) = decode_entry(entry) {
            out.push(l);
        }
        at += 8 + size;
    }
    at
}

/// A rotated file's content (gunzipped when it ends in `.gz`).
fn read_rotated(p: &Path) -> Vec<u8> {
    let Ok(f) = std::fs::File::open(p) else {
        return Vec::new();
    };
    let mut data = Vec::new();
    if p.extension().is_some_and(|e| e == "gz") {
        crate::error::ignore(
            format_args!("read rotated log {}", p.display()),
            flate2::read::GzDecoder::new(f)
                .take(MAX_SIZE)
                .read_to_end(&mut data),
        );
    } else {
        crate::error::ignore(
            format_args!("read rotated log {}", p.display()),
            f.take(MAX_SIZE).read_to_end(&mut data),
        );
    }
    data
}

impl Engine {
    /// The driver of a container's log (`json-file` when unset).
    pub fn log_driver(c: &ContainerRecord) -> String {
        match c.config.host_config.log_config.typ.as_str() {
            "" => "json-file".into(),
            d => d.to_string(),
        }
    }

    /// Refuses to read a log the driver keeps none of (dockerd's 501).
    pub fn check_log_readable(c: &ContainerRecord) -> Result<(), EngineError> {
        if Self::log_driver(c) == "none" {
            return Err(LogError::NotImplemented(
                "configured logging driver does not support reading".into(),
            )
            .into());
        }
        Ok(())
    }

    /// The whole log lines of a container from byte offset `from`, in
    /// order, and the offset after the last one.
    /// From offset 0, the rotated files (`ctr.log.N[.gz]` … `ctr.log.1`)
    /// come first; an offset past the end means the log was rotated
    /// meanwhile, and reading starts again at the new file's start.
    pub fn container_log(&self, c: &ContainerRecord, from: u64) -> (Vec<LogLine>, u64) {
        let local = Self::log_driver(c) == "local";
        let dir = self.container_dir(&c.id);
        let path = dir.join(shim_proto::files::LOG);
        let mut out = Vec::new();
        if from == 0 {
            let mut rotated: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name
                        .strip_prefix(shim_proto::files::LOG)?
                        .strip_prefix('.')?;
                    n.strip_suffix(".gz")
                        .unwrap_or(n)
                        .parse::<u32>()
                        .ok()
                        .map(|n| (n, e.path()))
                })
                .collect();
            rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
            for (_, p) in rotated {
                let data = read_rotated(&p);
                if local {
                    parse_frames(&data, &mut out);
                } else {
                    parse_json_lines(&data, &mut out);
                }
            }
        }
        let Ok(mut f) = std::fs::File::open(&path) else {
            return (out, from);
        };
        let from = if f.metadata().map(|m| m.len()).unwrap_or(0) < from {
            0
        } else {
            from
        };
        let mut data = Vec::new();
        if std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(from)).is_err()
            || f.read_to_end(&mut data).is_err()
        {
            return (Vec::new(), from);
        }
        // Only whole lines (frames); a partial last one waits for the next read.
        let end = if local {
            parse_frames(&data, &mut out)
        } else {
            let end = data.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            parse_json_lines(&data[..end], &mut out);
            end
        };
        (out, from + end as u64)
    }
}

/// An error of a container's log driver: its options, its reading.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A refusal of what the caller asked (400), in Docker's words.
    #[error("{0}")]
    Invalid(String),
    /// What the driver cannot do (501).
    #[error("{0}")]
    NotImplemented(String),
}

impl LogError {
    /// What sort of failure, for the status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LogError::Invalid(_) => ErrorKind::InvalidArgument,
            LogError::NotImplemented(_) => ErrorKind::NotImplemented,
        }
    }
}

impl crate::error::ModuleError for LogError {
    fn kind(&self) -> crate::ErrorKind {
        LogError::kind(self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lc(t: &str, opts: Value) -> LogConfig {
        models::de::from_value(json!({"Type": t, "Config": opts})).unwrap()
    }

    #[test]
    fn drivers_and_options_checked_with_dockers_words() {
        for (t, opts, want) in [
            (
                "asdf",
                json!({}),
                "logger: no log driver named 'asdf' is registered",
            ),
            (
                "json-file",
                json!({"foo": "1"}),
                "unknown log opt 'foo' for json-file log driver",
            ),
            (
                "local",
                json!({"labels": "a"}),
                "unknown log opt 'labels' for log driver local",
            ),
            (
                "json-file",
                json!({"max-file": "0"}),
                "max-file cannot be less than 1",
            ),
            (
                "json-file",
                json!({"max-size": "0"}),
                "max-size must be a positive number",
            ),
            (
                "json-file",
                json!({"max-size": "abc"}),
                "invalid size: 'abc'",
            ),
            (
                "json-file",
                json!({"compress": "true", "max-file": "2"}),
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (
                "local",
                json!({"max-file": "1"}),
                "compression cannot be enabled when max file count is 1",
            ),
            (
                "json-file",
                json!({"mode": "fast"}),
                "logger: logging mode not supported: fast",
            ),
        ] {
            assert_eq!(
                settings(&lc(t, opts.clone())).unwrap_err().to_string(),
                want,
                "{t} {opts}"
            );
        }
        assert!(settings(&lc("syslog", json!({})))
            .unwrap_err()
            .to_string()
            .contains("not supported by berth"));
        let s = settings(&lc("json-file", json!({"max-size": "1k", "max-file": "3"}))).unwrap();
        assert_eq!((s.max_size, s.max_file, s.compress), (1000, 3, false));
        let s = settings(&lc("json-file", json!({"max-file": "3"}))).unwrap();
        assert_eq!(s.max_file, 1, "no rotation without max-size, as Docker");
        let s = settings(&lc("local", json!({}))).unwrap();
        assert_eq!((s.max_size, s.max_file, s.compress), (20 << 20, 5, true));
        assert_eq!(
            settings(&lc("none", json!({"anything": "x"})))
                .unwrap()
                .driver,
            "none"
        );
        assert_eq!(from_human_size("1.5MiB"), Some(1_572_864));
    }

    #[test]
    fn local_frames_read_back() {
        // source "stdout", time 1 s, line "hi"; then a partial stderr one.
        let entry = |src: &str, line: &[u8], partial: bool| {
            let mut e = vec![0x0a, src.len() as u8];
            e.extend_from_slice(src.as_bytes());
            e.extend_from_slice(&[0x10, 0x80, 0x94, 0xeb, 0xdc, 0x03]);
            e.push(0x1a);
            e.push(line.len() as u8);
            e.extend_from_slice(line);
            if partial {
                e.extend_from_slice(&[0x20, 1]);
            }
            let mut f = (e.len() as u32).to_be_bytes().to_vec();
            f.extend_from_slice(&e);
            f.extend_from_slice(&(e.len() as u32).to_be_bytes());
            f
        };
        let mut data = entry("stdout", b"hi", false);
        data.extend(entry("stderr", b"part", true));
        let whole = data.len();
        data.extend_from_slice(&[0, 0, 0]);
        let mut out = Vec::new();
        assert_eq!(parse_frames(&data, &mut out), whole);
        assert_eq!(out[0].data, b"hi\n");
        assert_eq!((out[1].stream, out[1].data.as_slice()), (2, &b"part"[..]));
        assert!(
            out[0].time.starts_with("1970-01-01T00:00:01"),
            "{}",
            out[0].time
        );
    }
}
