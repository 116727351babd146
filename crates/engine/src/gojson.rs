//! Reading API bodies as dockerd's Go code reads them.
//!
//! Clients are written against dockerd, whose `encoding/json` reads `null`
//! into a struct field as "leave it at its zero value": `"WorkingDir":
//! null` is an empty string, `"Memory": null` is 0, `"CapAdd": null` is no
//! list. docker-py and bollard send such `null`s. Typed serde structs
//! refuse them, so a body is first brought to the shape Go would have seen:
//! `null` members of an object are dropped (serde's `default` then gives
//! the zero value), except inside the maps Docker's types declare, where Go
//! keeps the key with a zero value (`"Labels": {"a": null}` is a label `a`
//! with an empty value).
//!
//! The typed models of issue 17 replace this once every body is read into
//! them; until then it is the one place that knows.

use serde_json::Value;

/// Members of Docker's request bodies that are maps of strings: a `null`
/// value in them is an empty string, as Go reads it.
const STRING_MAPS: &[&str] = &[
    "Labels",
    "Sysctls",
    "StorageOpt",
    "Config",
    "DriverOpts",
    "Options",
    "DriverConfig",
];

/// Members that are sets (`map[string]struct{}`): a `null` value is an
/// empty object, as Go reads it.
const SETS: &[&str] = &["ExposedPorts", "Volumes"];

/// Drops `null` members of the objects in `v`, recursively, but keeps the
/// keys of the maps above with Go's zero value.
pub fn drop_nulls(v: &mut Value) {
    walk(v, None);
}

fn walk(v: &mut Value, parent: Option<&str>) {
    match v {
        Value::Object(map) => {
            let zero = match parent {
                Some(p) if STRING_MAPS.contains(&p) => Some(Value::String(String::new())),
                Some(p) if SETS.contains(&p) => Some(Value::Object(Default::default())),
                _ => None,
            };
            match zero {
                Some(zero) => {
                    for value in map.values_mut() {
                        if value.is_null() {
                            *value = zero.clone();
                        }
                    }
                }
                None => map.retain(|_, value| !value.is_null()),
            }
            for (key, value) in map.iter_mut() {
                walk(value, Some(key));
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, None);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nulls_read_as_go_reads_them() {
        for (mut input, want) in [
            (
                json!({"Image": "busybox", "WorkingDir": null, "Cmd": null}),
                json!({"Image": "busybox"}),
            ),
            (
                json!({"HostConfig": {"Memory": null, "CapAdd": null, "LogConfig": {"Type": null, "Config": {"max-size": null}}}}),
                json!({"HostConfig": {"LogConfig": {"Config": {"max-size": ""}}}}),
            ),
            (
                json!({"Labels": {"a": null, "b": "x"}, "ExposedPorts": {"80/tcp": null}}),
                json!({"Labels": {"a": "", "b": "x"}, "ExposedPorts": {"80/tcp": {}}}),
            ),
            (
                json!({"HostConfig": {"Mounts": [{"Type": "volume", "VolumeOptions": null}]}}),
                json!({"HostConfig": {"Mounts": [{"Type": "volume"}]}}),
            ),
            (json!(null), json!(null)),
        ] {
            drop_nulls(&mut input);
            assert_eq!(input, want);
        }
    }
}
