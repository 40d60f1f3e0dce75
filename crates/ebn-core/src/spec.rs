//! Component specifications: the `kind = "..."` tables of an experiment file.
//!
//! A [`Spec`] is a component's kind and its parameters, kept as plain data until a
//! [`crate::Registry`] turns it into a running component. The parameters are parsed only by
//! the builder registered for the kind, into that component's own serde type (with
//! `deny_unknown_fields`), so no closed enum stands between a file and a component: a fork
//! registers a kind and names it in a file.
//!
//! In a file a spec is a table, `{ kind = "duffing", alpha = -1.0 }`, or just the kind as a
//! string, `"rk4"`. A table without `kind` means the default kind of its slot (the neuron
//! slot's default is `ebn`, so `neuron = { lambda_v = 10.0 }` still reads as before).

use crate::error::{Error, Result};
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// A component's kind and parameters (see the module documentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spec {
    /// The registered kind; empty for "the slot's default".
    pub kind: String,
    /// The parameters, every key of the table but `kind`.
    pub params: Map<String, Value>,
}

impl Spec {
    /// A spec of `kind` with no parameters.
    pub fn new(kind: impl Into<String>) -> Self {
        Self { kind: kind.into(), params: Map::new() }
    }

    /// Adds the parameter `key` (any serialisable value; panics only if `value` cannot be
    /// represented as JSON, which no plain-data parameter type does).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).expect("plain data serialises to JSON");
        self.params.insert(key.to_string(), value);
        self
    }

    /// Sets the parameter `key` in place (see [`Spec::with`]).
    pub fn set(&mut self, key: &str, value: impl Serialize) {
        let value = serde_json::to_value(value).expect("plain data serialises to JSON");
        self.params.insert(key.to_string(), value);
    }

    /// The spec of a typed configuration value: a `kind`-tagged enum or struct (the kind
    /// is read from its `kind` field) or a struct of parameters for `kind`.
    pub fn of(kind: &str, typed: &impl Serialize) -> Self {
        match serde_json::to_value(typed) {
            Ok(Value::Object(mut params)) => {
                let kind = match params.remove("kind") {
                    Some(Value::String(k)) => k,
                    _ => kind.to_string(),
                };
                Self { kind, params }
            }
            Ok(Value::String(k)) => Self::new(k),
            _ => Self::new(kind),
        }
    }

    /// The spec of a value of a `kind`-tagged enum (`#[serde(tag = "kind")]`), the form of the
    /// built-in configuration enums: `Spec::tagged(&TargetConfig::DampedOscillator)`.
    pub fn tagged(typed: &impl Serialize) -> Self {
        Self::of("", typed)
    }

    /// Parses the parameters into the component's own type `P`. Errors name the slot
    /// (`field`), the kind and the offending key.
    pub fn parse<P: DeserializeOwned>(&self, field: &str) -> Result<P> {
        serde_path_to_error::deserialize(Value::Object(self.params.clone())).map_err(|e| self.parse_error(field, e))
    }

    /// Parses kind and parameters together into a `kind`-tagged enum `P`.
    pub fn parse_tagged<P: DeserializeOwned>(&self, field: &str) -> Result<P> {
        let mut all = self.params.clone();
        all.insert("kind".into(), Value::String(self.kind.clone()));
        serde_path_to_error::deserialize(Value::Object(all)).map_err(|e| self.parse_error(field, e))
    }

    /// The error names the slot and, when the parameter parser knows it, the key below it
    /// (`network.neuron.lambda_v`), whatever the error (unknown key, wrong type, missing).
    fn parse_error(&self, field: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Error {
        let key = e.path().to_string();
        let path = match (field.is_empty(), key == ".") {
            (true, true) => String::new(),
            (true, false) => format!("`{key}` "),
            (false, true) => format!("`{field}` "),
            (false, false) => format!("`{field}.{key}` "),
        };
        Error::Parse(format!("{path}(kind \"{}\"): {}", self.kind, e.into_inner()))
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", if self.kind.is_empty() { "(default)" } else { &self.kind })?;
        if !self.params.is_empty() {
            write!(f, " {}", Value::Object(self.params.clone()))?;
        }
        Ok(())
    }
}

impl Serialize for Spec {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.params.len() + 1))?;
        map.serialize_entry("kind", &self.kind)?;
        for (k, v) in &self.params {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Spec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct SpecVisitor;
        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = Spec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a component: a table with a `kind` key and its parameters, or a kind as a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Spec, E> {
                Ok(Spec::new(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> std::result::Result<Spec, A::Error> {
                let mut spec = Spec::default();
                while let Some(key) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if key == "kind" {
                        match value {
                            Value::String(k) => spec.kind = k,
                            other => return Err(de::Error::custom(format!("`kind` must be a string, got {other}"))),
                        }
                    } else if spec.params.insert(key.clone(), value).is_some() {
                        return Err(de::Error::custom(format!("duplicate key `{key}`")));
                    }
                }
                Ok(spec)
            }
        }
        d.deserialize_any(SpecVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Duffing {
        alpha: f64,
        #[serde(default)]
        delta: f64,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    enum Builtin {
        Zero,
        Gain { k: f64 },
    }

    #[test]
    fn reads_tables_strings_and_defaults() {
        let s: Spec = serde_json::from_str(r#"{"kind": "duffing", "alpha": -1}"#).unwrap();
        assert_eq!(s.kind, "duffing");
        assert_eq!(s.parse::<Duffing>("target").unwrap(), Duffing { alpha: -1.0, delta: 0.0 });
        let s: Spec = serde_json::from_str(r#""rk4""#).unwrap();
        assert_eq!(s, Spec::new("rk4"));
        let s: Spec = serde_json::from_str(r#"{"lambda_v": 10.0}"#).unwrap();
        assert_eq!(s.kind, "");
    }

    #[test]
    fn unknown_keys_are_named() {
        let s: Spec = serde_json::from_str(r#"{"kind": "duffing", "alpah": -1}"#).unwrap();
        let e = s.parse::<Duffing>("target").unwrap_err().to_string();
        assert!(e.contains("alpah") && e.contains("target") && e.contains("duffing"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_the_key_below_the_slot() {
        let s: Spec = serde_json::from_str(r#"{"kind": "duffing", "alpha": "soft"}"#).unwrap();
        let e = s.parse::<Duffing>("target").unwrap_err().to_string();
        assert!(e.starts_with("configuration: `target.alpha` (kind \"duffing\"): invalid type: string"), "{e}");
        let e = s.parse::<Duffing>("").unwrap_err().to_string();
        assert!(e.contains("`alpha` (kind"), "{e}");
    }

    #[test]
    fn typed_values_round_trip() {
        for v in [Builtin::Zero, Builtin::Gain { k: 0.25 }] {
            let s = Spec::tagged(&v);
            assert_eq!(s.parse_tagged::<Builtin>("x").unwrap(), v);
            let back: Spec = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
        let s = Spec::of("duffing", &Duffing { alpha: 2.0, delta: 0.5 });
        assert_eq!(s.kind, "duffing");
        assert_eq!(s, Spec::new("duffing").with("alpha", 2.0).with("delta", 0.5));
    }
}
