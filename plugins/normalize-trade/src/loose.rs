//! A field that producers send either as text or as a number, read without a
//! `serde_json::Value` (which copies every string it holds).

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The value of a loosely typed field: text (borrowed from the record unless the JSON escapes
/// it), a number, or anything else (kept whole, for the error message).
#[derive(Debug, PartialEq)]
pub enum Loose<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Other(serde_json::Value),
}

/// As JSON, the way `serde_json::Value` shows itself: errors quote what was sent.
impl fmt::Display for Loose<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loose::Text(s) => write!(f, "{}", serde_json::Value::from(&**s)),
            Loose::Int(n) => write!(f, "{n}"),
            Loose::UInt(n) => write!(f, "{n}"),
            Loose::Float(n) => match serde_json::Number::from_f64(*n) {
                Some(n) => write!(f, "{n}"),
                None => f.write_str("null"),
            },
            Loose::Other(v) => write!(f, "{v}"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LooseVisitor;
        impl<'de> Visitor<'de> for LooseVisitor {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text or a number")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose<'de>, E> {
                Ok(Loose::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose<'de>, E> {
                Ok(Loose::UInt(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose<'de>, E> {
                Ok(Loose::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose<'de>, E> {
                Ok(Loose::Other(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Other(serde_json::Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Loose<'de>, A::Error> {
                serde_json::Value::deserialize(SeqAccessDeserializer::new(seq)).map(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose<'de>, A::Error> {
                serde_json::Value::deserialize(MapAccessDeserializer::new(map)).map(Loose::Other)
            }
        }
        d.deserialize_any(LooseVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of JSON value reads as the variant for it and shows as `Value` would.
    #[test]
    fn reads_each_kind_and_shows_it_as_json() {
        for (json, expected) in [
            (r#""T1""#, Loose::Text("T1".into())),
            (r#""a\"b""#, Loose::Text("a\"b".into())),
            ("-5", Loose::Int(-5)),
            ("18446744073709551615", Loose::UInt(u64::MAX)),
            ("1.5", Loose::Float(1.5)),
            ("1e300", Loose::Float(1e300)),
            ("true", Loose::Other(true.into())),
            ("[1,{\"a\":null}]", Loose::Other(serde_json::json!([1, {"a": null}]))),
            ("{\"x\":[2]}", Loose::Other(serde_json::json!({"x": [2]}))),
        ] {
            let loose: Loose<'_> = serde_json::from_str(json).unwrap();
            assert_eq!(loose, expected, "{json}");
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(loose.to_string(), value.to_string(), "{json}");
        }
        // Unescaped text is borrowed from the input.
        assert!(matches!(serde_json::from_str::<Loose<'_>>(r#""AAPL""#).unwrap(), Loose::Text(Cow::Borrowed(_))));
    }
}
