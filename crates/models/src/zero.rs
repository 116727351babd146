//! The Go zero value of every field of a model, by path: what the docker
//! CLI's templates print for a field the JSON leaves `null` or out.
//!
//! `docker inspect --format` runs its template on moby's typed structs, so
//! `{{.Config.Cmd}}` of a nil slice prints `[]`, a nil map `map[]`, a nil
//! pointer `<nil>`, and an `omitempty` string left out of the JSON prints
//! `""`. A template over JSON needs the type to do the same; [`zeros`]
//! reads a value with serde as the model `T` and notes, for every field
//! serde asks for that is `null` or missing, which kind of zero it has.
//! Struct fields come from serde's own field lists, so the answer follows
//! the models and nothing is listed by hand.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::de::Error;

/// The kind of zero a field has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zero {
    /// A nil slice: prints `[]`.
    Slice,
    /// A nil map: prints `map[]`.
    Map,
    /// A nil pointer or interface: prints `<nil>`.
    Nil,
    /// `""`.
    Str,
    /// `false`.
    Bool,
    /// `0`.
    Num,
}

impl Zero {
    /// The zero as JSON (`null` for the nil kinds).
    pub fn json(self) -> Value {
        match self {
            Zero::Slice | Zero::Map | Zero::Nil => Value::Null,
            Zero::Str => Value::String(String::new()),
            Zero::Bool => Value::Bool(false),
            Zero::Num => Value::from(0),
        }
    }

    /// How Go's `fmt` prints it.
    pub fn text(self) -> &'static str {
        match self {
            Zero::Slice => "[]",
            Zero::Map => "map[]",
            Zero::Nil => "<nil>",
            Zero::Str => "",
            Zero::Bool => "false",
            Zero::Num => "0",
        }
    }
}

/// Dotted path (`Config.Cmd`) → the zero of each field of `v` read as `T`
/// that is `null` or missing.
pub fn zeros<T: DeserializeOwned>(v: &Value) -> BTreeMap<String, Zero> {
    let out = RefCell::new(BTreeMap::new());
    let _direct = crate::de::Direct::enter();
    // Only the notes matter: a value that does not read as T notes less.
    let _ = T::deserialize(Walk {
        v: v.clone(),
        path: String::new(),
        out: &out,
    });
    out.into_inner()
}

struct Walk<'a> {
    v: Value,
    path: String,
    out: &'a RefCell<BTreeMap<String, Zero>>,
}

impl Walk<'_> {
    fn note(&self, z: Zero) {
        if !self.path.is_empty() {
            self.out.borrow_mut().insert(self.path.clone(), z);
        }
    }
}

macro_rules! scalar {
    ($($method:ident => $zero:expr, $visit:ident($val:expr)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.v {
                Value::Null => {
                    self.note($zero);
                    visitor.$visit($val)
                }
                v => v.$method(visitor).map_err(Error::from),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Walk<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Null => {
                self.note(Zero::Nil);
                visitor.visit_unit()
            }
            v => v.deserialize_any(visitor).map_err(Error::from),
        }
    }

    scalar! {
        deserialize_bool => Zero::Bool, visit_bool(false),
        deserialize_i8 => Zero::Num, visit_u64(0),
        deserialize_i16 => Zero::Num, visit_u64(0),
        deserialize_i32 => Zero::Num, visit_u64(0),
        deserialize_i64 => Zero::Num, visit_u64(0),
        deserialize_u8 => Zero::Num, visit_u64(0),
        deserialize_u16 => Zero::Num, visit_u64(0),
        deserialize_u32 => Zero::Num, visit_u64(0),
        deserialize_u64 => Zero::Num, visit_u64(0),
        deserialize_f32 => Zero::Num, visit_f64(0.0),
        deserialize_f64 => Zero::Num, visit_f64(0.0),
        deserialize_str => Zero::Str, visit_str(""),
        deserialize_string => Zero::Str, visit_str(""),
        deserialize_char => Zero::Str, visit_str(""),
        deserialize_identifier => Zero::Str, visit_str(""),
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            // What kind of nil: the inner type says when it is asked for.
            Value::Null => visitor.visit_some(Probe(self)),
            v => visitor.visit_some(Walk { v, ..self }),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Array(a) => {
                let items = a
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v))
                    .collect::<Vec<_>>();
                visitor.visit_seq(Items {
                    parent: &self.path,
                    out: self.out,
                    items: items.into_iter(),
                })
            }
            Value::Null => {
                self.note(Zero::Slice);
                visitor.visit_seq(Items {
                    parent: &self.path,
                    out: self.out,
                    items: Vec::new().into_iter(),
                })
            }
            v => v.deserialize_seq(visitor).map_err(Error::from),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            // A Go array is never nil: its elements are zeros.
            Value::Null => Walk {
                v: Value::Array(vec![Value::Null; len]),
                ..self
            }
            .deserialize_seq(visitor),
            _ => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.v {
            Value::Object(m) => visitor.visit_map(Entries {
                parent: &self.path,
                out: self.out,
                entries: m.into_iter().collect::<Vec<_>>().into_iter(),
                value: None,
            }),
            Value::Null => {
                self.note(Zero::Map);
                visitor.visit_map(Entries {
                    parent: &self.path,
                    out: self.out,
                    entries: Vec::new().into_iter(),
                    value: None,
                })
            }
            v => v.deserialize_map(visitor).map_err(Error::from),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut m = match self.v {
            Value::Object(m) => m,
            Value::Null => {
                self.note(Zero::Nil);
                serde_json::Map::new()
            }
            v => return Err(de::Error::custom(format!("a struct expected, not {v}"))),
        };
        // Every field the struct has, the missing ones as null, so that
        // each is asked for and noted.
        let entries: Vec<(String, Value)> = fields
            .iter()
            .map(|f| (f.to_string(), m.remove(*f).unwrap_or(Value::Null)))
            .collect();
        visitor.visit_map(Entries {
            parent: &self.path,
            out: self.out,
            entries: entries.into_iter(),
            value: None,
        })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.v
            .deserialize_enum(name, variants, visitor)
            .map_err(Error::from)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// The inside of a `null` option: notes the kind of nil from what the inner
/// type asks for (a list: a slice; a map: a map; anything else: a pointer)
/// and answers an empty value.
struct Probe<'a>(Walk<'a>);

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // moby's `StrSlice` (`Cmd`, `Entrypoint`) reads any JSON: a list.
        self.0.note(Zero::Slice);
        visitor.visit_unit()
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_map(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.note(Zero::Nil);
        visitor.visit_map(Entries {
            parent: "",
            out: self.0.out,
            entries: Vec::new().into_iter(),
            value: None,
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        self.0.note(Zero::Nil);
        visitor.visit_seq(Items {
            parent: "",
            out: self.0.out,
            items: vec![(String::new(), Value::Null); len].into_iter(),
        })
    }

    /// A nil pointer to a scalar (`*int64`, `*bool`).
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.note(Zero::Nil);
        visitor.visit_u64(0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.note(Zero::Nil);
        visitor.visit_bool(false)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.note(Zero::Nil);
        visitor.visit_str("")
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.note(Zero::Nil);
        visitor.visit_f64(0.0)
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf option unit unit_struct newtype_struct tuple_struct
        enum identifier ignored_any
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }
}

struct Items<'a> {
    parent: &'a str,
    out: &'a RefCell<BTreeMap<String, Zero>>,
    items: std::vec::IntoIter<(String, Value)>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((k, v)) = self.items.next() else {
            return Ok(None);
        };
        let w = Walk {
            v,
            path: join(self.parent, &k),
            out: self.out,
        };
        seed.deserialize(w).map(Some)
    }
}

struct Entries<'a> {
    parent: &'a str,
    out: &'a RefCell<BTreeMap<String, Zero>>,
    entries: std::vec::IntoIter<(String, Value)>,
    value: Option<(String, Value)>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        let key = seed.deserialize(de::value::StrDeserializer::<Error>::new(&k))?;
        self.value = Some((k, v));
        Ok(Some(key))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let (k, v) = self.value.take().unwrap_or_default();
        seed.deserialize(Walk {
            v,
            path: join(self.parent, &k),
            out: self.out,
        })
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::Inspect;

    #[test]
    fn zeros_of_an_inspect() {
        let v = serde_json::json!({
            "Id": "x", "Config": {"Cmd": null, "Env": ["A=1"], "Labels": null},
            "HostConfig": {"Binds": null, "PidsLimit": null},
            "NetworkSettings": {"Networks": {"bridge": {"Aliases": null}}},
        });
        let z = zeros::<Inspect>(&v);
        assert_eq!(z.get("Config.Cmd"), Some(&Zero::Slice));
        assert_eq!(z.get("Config.Labels"), Some(&Zero::Map));
        assert_eq!(z.get("Config.Healthcheck"), Some(&Zero::Nil));
        assert_eq!(z.get("Config.StopSignal"), Some(&Zero::Str));
        assert_eq!(z.get("Config.Shell"), Some(&Zero::Slice));
        assert_eq!(z.get("Config.ExposedPorts"), Some(&Zero::Map));
        assert_eq!(z.get("Config.Tty"), Some(&Zero::Bool));
        assert_eq!(z.get("HostConfig.Binds"), Some(&Zero::Slice));
        assert_eq!(z.get("HostConfig.PidsLimit"), Some(&Zero::Nil));
        assert_eq!(z.get("HostConfig.Memory"), Some(&Zero::Num));
        assert_eq!(z.get("HostConfig.Mounts"), Some(&Zero::Slice));
        assert_eq!(z.get("HostConfig.Tmpfs"), Some(&Zero::Map));
        assert_eq!(z.get("State"), Some(&Zero::Nil));
        assert_eq!(z.get("ExecIDs"), Some(&Zero::Slice));
        assert_eq!(z.get("SizeRw"), Some(&Zero::Nil));
        assert_eq!(
            z.get("NetworkSettings.Networks.bridge.Aliases"),
            Some(&Zero::Slice)
        );
        assert_eq!(
            z.get("NetworkSettings.Networks.bridge.IPAddress"),
            Some(&Zero::Str)
        );
        assert!(!z.contains_key("Config.Env"));
        assert!(!z.contains_key("Id"));
    }
}
