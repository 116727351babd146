//! Reading JSON the way Go's `encoding/json` reads it into moby's structs.
//!
//! Docker's daemon and CLI decode with Go, and clients rely on what Go
//! forgives (`encoding/json`'s `Unmarshal` documentation):
//!
//! - **`null` is the zero value** of whatever type the field has: a nil
//!   slice, map or pointer, and for a string, number or bool "no effect"
//!   (the zero value, in a fresh struct). Docker's own images are full of
//!   `"Env":null`, `"Volumes":null`, `"OnBuild":null`.
//! - **Keys match field names case-insensitively**, an exact match first
//!   (clients send `"cmd"` for `"Cmd"`, `"hostconfig"` for `"HostConfig"`).
//! - **Unknown keys are ignored.**
//!
//! serde's derive does none of that by itself, so every model is decoded
//! through [`from_slice`] or [`from_value`]: a deserializer over a parsed
//! [`serde_json::Value`] that hands `null` out as the zero value asked for
//! and, when serde asks for a struct (its field names in hand), renames
//! each key to the field it folds to. The models themselves stay plain
//! derives; they never use `#[serde(flatten)]` (serde then asks for a map
//! and the field names are lost), and mark every struct `#[serde(default)]`
//! so that an absent key is the zero value too.
//!
//! A decoding error names the path of the field that failed
//! (`HostConfig.Binds: invalid type: string "x", expected a sequence`).

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// Why a body could not be decoded, with the path of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Field names from the outside in (`["HostConfig", "Binds"]`).
    pub path: Vec<String>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path.join("."), self.message)
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            path: Vec::new(),
            message: msg.to_string(),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error {
            path: Vec::new(),
            message: e.to_string(),
        }
    }
}

impl Error {
    fn within(mut self, key: &str) -> Self {
        self.path.insert(0, key.to_string());
        self
    }
}

/// Decodes JSON bytes as Go would into `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let v: Value = serde_json::from_slice(bytes)?;
    from_value(v)
}

/// Decodes a parsed value as Go would into `T`.
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, Error> {
    let _direct = Direct::enter();
    T::deserialize(Go(v))
}

thread_local! {
    /// Set while a deserializer of this module runs: the [`go_json!`]
    /// types then let it read them directly (it applies Go's rules, or
    /// notes zeros, itself) instead of going through a `Value` again.
    static DIRECT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this module's deserializer is the one reading (see [`go_json!`]).
pub fn direct() -> bool {
    DIRECT.with(std::cell::Cell::get)
}

/// Sets [`direct`] for a scope.
pub(crate) struct Direct(bool);

impl Direct {
    pub(crate) fn enter() -> Direct {
        Direct(DIRECT.with(|d| d.replace(true)))
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        DIRECT.with(|d| d.set(self.0));
    }
}

/// Runs a serde `deserialize` function over `v` with Go's rules; the
/// [`go_json!`](crate::go_json) impls use it.
pub fn with_go_rules<T>(v: Value, f: impl FnOnce(GoValue) -> Result<T, Error>) -> Result<T, Error> {
    f(Go(v))
}

/// Gives a model `Deserialize` and `Serialize` impls that apply Go's rules
/// whatever deserializer reads it (`serde_json::from_slice` too, and a
/// record read back from the database): the type derives both with
/// `#[serde(remote = "Self")]` (serde then makes them inherent functions)
/// and this macro makes the trait impls, the `Deserialize` one reading a
/// `Value` first and decoding it as [`from_value`] does (unless this
/// module's own deserializer is reading: then directly).
#[macro_export]
macro_rules! go_json {
    ($($t:ty),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if $crate::de::direct() {
                    return <$t>::deserialize(d);
                }
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                $crate::de::with_go_rules(v, |g| <$t>::deserialize(g))
                    .map_err(<D::Error as serde::de::Error>::custom)
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
    )*};
}

/// A JSON value read with Go's rules.
pub struct GoValue(Value);
use GoValue as Go;

/// The zero value of a scalar for a `null`, else the value's own reading.
macro_rules! scalar {
    ($($method:ident => $zero:expr),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Null => $zero(visitor),
                v => v.$method(visitor).map_err(Error::from),
            }
        }
    )*};
}

fn zero_bool<'de, V: Visitor<'de>>(v: V) -> Result<V::Value, Error> {
    v.visit_bool(false)
}
fn zero_int<'de, V: Visitor<'de>>(v: V) -> Result<V::Value, Error> {
    v.visit_u64(0)
}
fn zero_float<'de, V: Visitor<'de>>(v: V) -> Result<V::Value, Error> {
    v.visit_f64(0.0)
}
fn zero_str<'de, V: Visitor<'de>>(v: V) -> Result<V::Value, Error> {
    v.visit_str("")
}
fn empty_seq<'de, V: Visitor<'de>>(v: V) -> Result<V::Value, Error> {
    v.visit_seq(Seq(Vec::new().into_iter()))
}
fn empty_map<'de, V: Visitor<'de>>(v: V) -> Result<V::Value, Error> {
    v.visit_map(Map::new(serde_json::Map::new(), None))
}

impl<'de> de::Deserializer<'de> for Go {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(Seq(a.into_iter())),
            Value::Object(m) => visitor.visit_map(Map::new(m, None)),
            v => v.deserialize_any(visitor).map_err(Error::from),
        }
    }

    scalar! {
        deserialize_bool => zero_bool,
        deserialize_i8 => zero_int,
        deserialize_i16 => zero_int,
        deserialize_i32 => zero_int,
        deserialize_i64 => zero_int,
        deserialize_i128 => zero_int,
        deserialize_u8 => zero_int,
        deserialize_u16 => zero_int,
        deserialize_u32 => zero_int,
        deserialize_u64 => zero_int,
        deserialize_u128 => zero_int,
        deserialize_f32 => zero_float,
        deserialize_f64 => zero_float,
        deserialize_str => zero_str,
        deserialize_string => zero_str,
        deserialize_char => zero_str,
        deserialize_identifier => zero_str,
        deserialize_bytes => empty_seq,
        deserialize_byte_buf => empty_seq,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            v => visitor.visit_some(Go(v)),
        }
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

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => empty_seq(visitor),
            Value::Array(a) => visitor.visit_seq(Seq(a.into_iter())),
            v => v.deserialize_seq(visitor).map_err(Error::from),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            // A Go array (`ConsoleSize [2]uint`) is all zeros for a null.
            Value::Null => visitor.visit_seq(Seq(vec![Value::Null; len].into_iter())),
            v => Go(v).deserialize_seq(visitor),
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
        match self.0 {
            Value::Null => empty_map(visitor),
            Value::Object(m) => visitor.visit_map(Map::new(m, None)),
            v => v.deserialize_map(visitor).map_err(Error::from),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => empty_map(visitor),
            Value::Object(m) => visitor.visit_map(Map::new(m, Some(fields))),
            v => v
                .deserialize_struct(name, fields, visitor)
                .map_err(Error::from),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0
            .deserialize_enum(name, variants, visitor)
            .map_err(Error::from)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Seq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(v) => seed.deserialize(Go(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of an object; for a struct, each key renamed to the field
/// it matches as Go matches (exactly, else ignoring ASCII case).
struct Map {
    entries: std::vec::IntoIter<(String, Value)>,
    value: Option<(String, Value)>,
}

impl Map {
    fn new(m: serde_json::Map<String, Value>, fields: Option<&'static [&'static str]>) -> Map {
        let entries: Vec<(String, Value)> = match fields {
            None => m.into_iter().collect(),
            Some(fields) => {
                // Exact names win; a key that only folds to a field already
                // given exactly is dropped (one value per field, as serde
                // wants; Go would keep the later one in the document).
                let mut out: Vec<(String, Value)> = Vec::with_capacity(m.len());
                let mut folded = Vec::new();
                for (k, v) in m {
                    if fields.contains(&k.as_str()) {
                        out.push((k, v));
                    } else if let Some(f) = fields.iter().find(|f| f.eq_ignore_ascii_case(&k)) {
                        folded.push((f.to_string(), v));
                    }
                }
                for (k, v) in folded {
                    if !out.iter().any(|(o, _)| *o == k) {
                        out.push((k, v));
                    }
                }
                out
            }
        };
        Map {
            entries: entries.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Map {
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
        let (k, v) = self
            .value
            .take()
            .ok_or_else(|| <Error as de::Error>::custom("a value without its key"))?;
        seed.deserialize(Go(v)).map_err(|e| e.within(&k))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// moby's `strslice.StrSlice` (`Cmd`, `Entrypoint`, `Shell`): a list of
/// strings, or one string standing for a list of one; `null` is nil.
pub fn str_slice<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(vec![s.to_string()]))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<GoString>()? {
                out.push(s.0);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(V)
}

/// [`str_slice`] for a field Go marks `omitempty` (nil and empty alike).
pub fn str_list<'de, D: de::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    str_slice(d).map(Option::unwrap_or_default)
}

/// A string element of a list, `null` read as `""` as Go does.
struct GoString(String);

impl<'de> de::Deserialize<'de> for GoString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<String>::deserialize(d).map(|s| GoString(s.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, rename_all = "PascalCase")]
    struct Inner {
        name: String,
        maximum_retry_count: i64,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, rename_all = "PascalCase")]
    struct Outer {
        #[serde(deserialize_with = "str_slice")]
        cmd: Option<Vec<String>>,
        env: Option<Vec<String>>,
        tty: bool,
        user: String,
        memory: i64,
        labels: Option<BTreeMap<String, String>>,
        restart_policy: Inner,
        pids_limit: Option<i64>,
        console_size: [u32; 2],
    }

    #[test]
    fn null_is_the_zero_value() {
        let o: Outer = from_slice(
            br#"{"Cmd":null,"Env":null,"Tty":null,"User":null,"Memory":null,
                "Labels":null,"RestartPolicy":null,"PidsLimit":null,"ConsoleSize":null}"#,
        )
        .unwrap();
        assert_eq!(o, Outer::default());
        let o: Outer = from_slice(br#"{"Env":[],"Labels":{},"PidsLimit":0}"#).unwrap();
        assert_eq!(o.env, Some(vec![]));
        assert_eq!(o.labels, Some(BTreeMap::new()));
        assert_eq!(o.pids_limit, Some(0));
    }

    #[test]
    fn keys_match_fields_as_go_matches_them() {
        let o: Outer = from_slice(
            br#"{"cmd":["sh"],"TTY":true,"restartpolicy":{"name":"always","MAXIMUMRETRYCOUNT":3},
                "Unknown":{"deep":[1,2]},"user":"x","User":"root"}"#,
        )
        .unwrap();
        assert_eq!(o.cmd.as_deref(), Some(&["sh".to_string()][..]));
        assert!(o.tty);
        assert_eq!(o.restart_policy.name, "always");
        assert_eq!(o.restart_policy.maximum_retry_count, 3);
        // The exact name wins over a folded one.
        assert_eq!(o.user, "root");
    }

    #[test]
    fn str_slice_takes_one_string() {
        let o: Outer = from_slice(br#"{"Cmd":"echo hi"}"#).unwrap();
        assert_eq!(o.cmd, Some(vec!["echo hi".to_string()]));
        let o: Outer = from_slice(br#"{"Cmd":["a",null]}"#).unwrap();
        assert_eq!(o.cmd, Some(vec!["a".to_string(), String::new()]));
    }

    #[test]
    fn errors_name_the_field() {
        let e = from_slice::<Outer>(br#"{"RestartPolicy":{"MaximumRetryCount":"x"}}"#).unwrap_err();
        assert_eq!(e.path, ["RestartPolicy", "MaximumRetryCount"]);
        assert!(e
            .to_string()
            .starts_with("RestartPolicy.MaximumRetryCount: invalid type"));
        assert!(from_slice::<Outer>(br#"{"Env":"x"}"#).is_err());
        assert!(from_slice::<Outer>(b"[1]").is_err());
    }

    #[test]
    fn values_inside_stay_as_they_are() {
        let v: Value = from_slice(br#"{"a":[null,{"b":null}],"c":1.5}"#).unwrap();
        assert_eq!(v, serde_json::json!({"a":[null,{"b":null}],"c":1.5}));
    }
}
