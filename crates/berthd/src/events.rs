//! `/events`: what happened to containers and images, as Docker reports it
//! (`Type`, `Action`, `Actor{ID, Attributes}`, `time`, `timeNano`, and the
//! older `status`/`id`/`from`). The last events are kept in memory for
//! `since`; live ones are broadcast to every `/events` stream.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// How many past events `since` can replay.
const KEPT: usize = 1024;

/// The daemon's event log.
#[derive(Debug)]
pub struct Events {
    tx: broadcast::Sender<Value>,
    past: Mutex<VecDeque<Value>>,
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
        let mut v = json!({
            "Type": typ, "Action": action,
            "Actor": {"ID": id, "Attributes": attributes},
            "scope": "local", "time": now.as_secs(), "timeNano": now.as_nanos() as u64,
        });
        if typ == "container" || typ == "image" {
            v["status"] = json!(action);
            v["id"] = json!(id);
            if let Some(image) = attributes.get("image") {
                v["from"] = json!(image);
            }
        }
        let mut past = self.past.lock().unwrap_or_else(|p| p.into_inner());
        if past.len() == KEPT {
            past.pop_front();
        }
        past.push_back(v.clone());
        // Sent under the lock: a subscriber that read the past under it
        // misses nothing and sees nothing twice.
        let _ = self.tx.send(v);
    }

    /// A container event, with its name, image and labels as attributes.
    pub fn container(
        &self,
        c: &engine::containers::ContainerRecord,
        action: &str,
        extra: &[(&str, String)],
    ) {
        let mut a: BTreeMap<String, String> = BTreeMap::new();
        if let Some(labels) = c.config["Labels"].as_object() {
            for (k, v) in labels {
                a.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
        a.insert("name".into(), c.name.clone());
        a.insert("image".into(), c.image_name.clone());
        for (k, v) in extra {
            a.insert((*k).to_string(), v.clone());
        }
        self.emit("container", action, &c.id, a);
    }

    /// The past events and a receiver for the next ones, taken together.
    pub fn subscribe(&self) -> (Vec<Value>, broadcast::Receiver<Value>) {
        let past = self.past.lock().unwrap_or_else(|p| p.into_inner());
        (past.iter().cloned().collect(), self.tx.subscribe())
    }
}

/// Docker's event filters: `type`, `event` (action), `container`, `image`,
/// `label`; values of one key are alternatives, keys all must match.
pub fn matches(v: &Value, filters: &BTreeMap<String, Vec<String>>) -> bool {
    let attr = |k: &str| {
        v["Actor"]["Attributes"][k]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let id = v["Actor"]["ID"].as_str().unwrap_or("");
    filters.iter().all(|(k, vals)| {
        vals.iter().any(|x| match k.as_str() {
            "type" => v["Type"] == x.as_str(),
            "event" | "action" => v["Action"]
                .as_str()
                .is_some_and(|a| a == x || a.split(':').next() == Some(x)),
            "container" => {
                v["Type"] == "container" && (id.starts_with(x.as_str()) || attr("name") == *x)
            }
            "image" => {
                attr("image") == *x || (v["Type"] == "image" && (id == x || attr("name") == *x))
            }
            "label" => match x.split_once('=') {
                Some((lk, lv)) => attr(lk) == lv,
                None => v["Actor"]["Attributes"].get(x.as_str()).is_some(),
            },
            _ => true,
        })
    })
}

/// Seconds since the epoch of a `since`/`until` value: Unix seconds (with
/// a fraction) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    s.parse::<f64>().ok().or_else(|| {
        let t = engine::time::unix_seconds_f64(s);
        (t > 0.0).then_some(t)
    })
}

/// An event's time in seconds, with the fraction.
pub fn time_of(v: &Value) -> f64 {
    v["timeNano"]
        .as_u64()
        .map(|n| n as f64 / 1e9)
        .unwrap_or(0.0)
}
