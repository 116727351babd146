//! `berth events`: the daemon's events as they happen, printed as docker's
//! `cli/command/system/events.go` prints them, until interrupted or until
//! `--until`.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use http_body_util::BodyExt;
use hyper::Method;
use models::events::Message;
use serde_json::{json, Value};

use super::{filters_json, out, Status};
use crate::client::{self, Client, Query};
use crate::template::Template;
use crate::units;

/// Longest event line accepted: an event is a few hundred bytes (labels
/// included); the bound keeps a daemon that never sends a newline from
/// making us buffer without end.
const MAX_LINE: usize = 1 << 20;

/// `berth events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('json' or a Go template)
    #[arg(long, value_name = "string")]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long, value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long, value_name = "string")]
    pub until: Option<String>,
}

/// The fields a template sees: the Go struct's names, not its JSON's.
fn fields(m: &Message) -> Value {
    json!({
        "Status": m.status, "ID": m.id, "From": m.from,
        "Type": m.typ, "Action": m.action,
        "Actor": {"ID": m.actor.id, "Attributes": attributes_or_empty(m)},
        "Scope": m.scope, "Time": m.time, "TimeNano": m.time_nano,
    })
}

fn attributes_or_empty(m: &Message) -> BTreeMap<String, String> {
    m.actor.attributes.clone().unwrap_or_default()
}

/// docker's `prettyPrintEvent`: time, type, action, actor, and the
/// attributes sorted by key.
fn pretty(m: &Message) -> String {
    let mut line = String::new();
    if m.time_nano != 0 {
        line.push_str(&units::rfc3339_nano_fixed(m.time_nano));
        line.push(' ');
    } else if m.time != 0 {
        line.push_str(&units::rfc3339_nano_fixed(
            m.time.saturating_mul(1_000_000_000),
        ));
        line.push(' ');
    }
    line.push_str(&format!("{} {} {}", m.typ, m.action, m.actor.id));
    let attrs = attributes_or_empty(m);
    if !attrs.is_empty() {
        let pairs: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str(&format!(" ({})", pairs.join(", ")));
    }
    line
}

/// How each event prints.
enum Printer {
    Pretty,
    /// `json` or `{{json .}}`: the message's own bytes.
    Json,
    Template(Template),
}

/// The field names of `events.Message` and of its `Actor`.
const MESSAGE_FIELDS: [&str; 9] = [
    "Status", "ID", "From", "Type", "Action", "Actor", "Scope", "Time", "TimeNano",
];

/// docker's `makeTemplate`: no `table`, `json` is `{{json .}}`, and a
/// template naming a field the message lacks is refused before any event
/// (docker runs it on an empty message), with exit 64.
fn printer(format: Option<&str>) -> Result<Printer> {
    let format = match format {
        None | Some("") => return Ok(Printer::Pretty),
        Some("json") => return Ok(Printer::Json),
        Some(f) => f,
    };
    if format.trim() == "{{json .}}" {
        return Ok(Printer::Json);
    }
    let bad = |e: String| Status::exit(64, format!("Error parsing format: template: {e}"));
    let t = Template::parse(format).map_err(bad)?;
    for path in t.fields() {
        let unknown = match path {
            [] => None,
            [f, ..] if !MESSAGE_FIELDS.contains(&f.as_str()) => Some((f, "*events.Message")),
            [a, f, ..] if a == "Actor" && f != "ID" && f != "Attributes" => {
                Some((f, "events.Actor"))
            }
            _ => None,
        };
        if let Some((f, typ)) = unknown {
            let shown: Vec<&str> = path.iter().map(String::as_str).collect();
            return Err(bad(format!(
                "executing \"\" at <.{}>: can't evaluate field {f} in type {typ}",
                shown.join(".")
            )));
        }
    }
    Ok(Printer::Template(t))
}

impl Printer {
    fn line(&self, m: &Message) -> Result<String> {
        Ok(match self {
            Printer::Pretty => pretty(m),
            Printer::Json => serde_json::to_string(m)?,
            Printer::Template(t) => t
                .render(&fields(m))
                .map_err(|e| Status::exit(1, format!("template: {e}")))?,
        })
    }
}

/// `berth events`.
pub async fn events(client: &Client, a: &EventsArgs) -> Result<u8> {
    let printer = printer(a.format.as_deref())?;
    let now = units::now_f64();
    let time = |v: &Option<String>| -> Result<String> {
        match v {
            None => Ok(String::new()),
            Some(v) => units::timestamp(v, now).map_err(|e| Status::exit(1, e)),
        }
    };
    let mut q = Query::new()
        .opt("since", &time(&a.since)?)
        .opt("until", &time(&a.until)?);
    if !a.filter.is_empty() {
        q = q.add("filters", &filters_json(&a.filter)?);
    }
    let resp = client
        .send(
            Method::GET,
            &format!("/events{q}"),
            client::full(bytes::Bytes::new()),
            "application/json",
        )
        .await?;
    let mut body = resp.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Some(data) = frame?.data_ref().cloned() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let m: Message = models::de::from_slice(&line)?;
            out(&format!("{}\n", printer.line(&m)?))?;
        }
        if buf.len() > MAX_LINE {
            anyhow::bail!("an event longer than {MAX_LINE} bytes");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        models::de::from_value(json!({
            "status": "die", "id": "abc", "from": "busybox", "Type": "container",
            "Action": "die", "Actor": {"ID": "abc", "Attributes":
                {"name": "x", "exitCode": "0", "image": "busybox"}},
            "scope": "local", "time": 1_714_566_896, "timeNano": 1_714_566_896_000_000_123i64,
        }))
        .unwrap()
    }

    #[test]
    fn events_print_as_docker_prints_them() {
        let m = message();
        assert_eq!(
            pretty(&m),
            "2024-05-01T12:34:56.000000123Z container die abc (exitCode=0, image=busybox, name=x)"
        );
        assert_eq!(
            Printer::Json.line(&m).unwrap(),
            r#"{"status":"die","id":"abc","from":"busybox","Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"exitCode":"0","image":"busybox","name":"x"}},"scope":"local","time":1714566896,"timeNano":1714566896000000123}"#
        );
        let t = printer(Some(
            "{{.Type}} {{.Actor.Attributes.name}} {{.Time}} {{.From}}",
        ))
        .unwrap();
        assert_eq!(t.line(&m).unwrap(), "container x 1714566896 busybox");
        let bare = Message {
            typ: "image".into(),
            ..Default::default()
        };
        assert_eq!(pretty(&bare), "image  ");
        assert_eq!(
            Printer::Json.line(&bare).unwrap(),
            r#"{"Type":"image","Action":"","Actor":{"ID":"","Attributes":null}}"#
        );
    }

    #[test]
    fn templates_naming_unknown_fields_are_refused() {
        for f in ["{{.Bad}}", "{{.Actor.Name}}"] {
            let e = printer(Some(f)).err().unwrap();
            assert_eq!(super::super::exit_of(&e).0, 64, "{f}");
        }
        assert!(printer(Some("{{.Actor.Attributes.anything}}")).is_ok());
        assert!(matches!(printer(Some("json")), Ok(Printer::Json)));
    }
}
