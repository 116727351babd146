//! `/events`: what happened to containers and images, as Docker reports it
//! (`Type`, `Action`, `Actor{ID, Attributes}`, `time`, `timeNano`, and the
//! older `status`/`id`/`from`). The last events are kept in memory for
//! `since`; live ones are broadcast to every `/events` stream.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use models::events::{Actor, Message};
use tokio::sync::broadcast;

/// How many past events `since` can replay.
const KEPT: usize = 1024;

/// The daemon's event log.
#[derive(Debug)]
pub struct Events {
    tx: broadcast::Sender<Message>,
    past: Mutex<VecDeque<Message>>,
}

impl Default for Events {
    fn default() -> Events {
        Events {
            tx: broadcast::channel(256).0,
            past: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }
}

impl Events {
    /// Records and broadcasts one event.
    pub fn emit(&self, typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut v = Message {
            typ: typ.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: Some(attributes),
            },
            scope: "local".into(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
            ..Default::default()
        };
        // The fields before API 1.22, still written for containers and images.
        if typ == "container" || typ == "image" {
            v.status = action.into();
            v.id = id.into();
            v.from = v.attr("image").to_string();
        }
        let mut past = self.past.lock().unwrap_or_else(|p| p.into_inner());
        if past.len() == KEPT {
            past.pop_front();
        }
        past.push_back(v.clone());
        // Sent under the lock: a subscriber that read the past under it
        // misses nothing and sees nothing twice.
        // No subscriber is listening: the event is in the log all the same.
        let _ = self.tx.send(v);
    }

    /// A container event, with its name, image and labels as attributes.
    pub fn container(
        &self,
        c: &engine::container::ContainerRecord,
        action: &str,
        extra: &[(&str, String)],
    ) {
        let mut a: BTreeMap<String, String> = BTreeMap::new();
        a.extend(c.config.config.labels());
        a.insert("name".into(), c.name.clone());
        a.insert("image".into(), c.image_name.clone());
        for (k, v) in extra {
            a.insert((*k).to_string(), v.clone());
        }
        self.emit("container", action, &c.id, a);
    }

    /// The past events and a receiver for the next ones, taken together.
    pub fn subscribe(&self) -> (Vec<Message>, broadcast::Receiver<Message>) {
        let past = self.past.lock().unwrap_or_else(|p| p.into_inner());
        (past.iter().cloned().collect(), self.tx.subscribe())
    }
}

/// Docker's event filters: `type`, `event` (action), `container`, `image`,
/// `label`; values of one key are alternatives, keys all must match.
pub fn matches(v: &Message, filters: &BTreeMap<String, Vec<String>>) -> bool {
    let attr = |k: &str| v.attr(k);
    let id = v.actor.id.as_str();
    filters.iter().all(|(k, vals)| {
        vals.iter().any(|x| match k.as_str() {
            "type" => v.typ == *x,
            "event" | "action" => v.action == *x || v.action.split(':').next() == Some(x),
            "container" => {
                v.typ == "container" && (id.starts_with(x.as_str()) || attr("name") == x)
            }
            "image" => attr("image") == x || (v.typ == "image" && (id == x || attr("name") == x)),
            "label" => match x.split_once('=') {
                Some((lk, lv)) => attr(lk) == lv,
                None => v
                    .actor
                    .attributes
                    .as_ref()
                    .is_some_and(|a| a.contains_key(x.as_str())),
            },
            _ => true,
        })
    })
}

/// Seconds since the epoch of a `since`/`until` value: Unix seconds (with
/// a fraction), an RFC 3339 time, or a duration before now (`10m`, `1h30m`).
pub fn parse_time(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    if let Some(d) = parse_duration(s) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        return Some(now - d);
    }
    s.parse::<f64>().ok().or_else(|| {
        let t = engine::time::unix_seconds_f64(s);
        (t > 0.0).then_some(t)
    })
}

/// Go's durations: numbers with units h, m, s, ms (`1h30m`, `90s`).
fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut rest = s;
    let mut any = false;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else {
            match c {
                'h' => (3600.0, 1),
                'm' => (60.0, 1),
                's' => (1.0, 1),
                _ => return None,
            }
        };
        total += num.parse::<f64>().ok()? * unit;
        num.clear();
        rest = &rest[len..];
        any = true;
    }
    (any && num.is_empty()).then_some(total)
}

/// An event's time in seconds, with the fraction.
pub fn time_of(v: &Message) -> f64 {
    v.time_nano as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1700000000.5"), Some(1_700_000_000.5));
        assert_eq!(parse_time("2026-11-22T00:00:00Z"), Some(1_795_305_600.0));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let t = parse_time("1h30m").unwrap();
        assert!((now - t - 5400.0).abs() < 5.0, "{t}");
        assert_eq!(parse_duration("90s"), Some(90.0));
        assert_eq!(parse_duration("250ms"), Some(0.25));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_time("bogus"), None);
    }
}
