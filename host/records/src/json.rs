//! A plugin's JSON row read straight into one slot per column: no `serde_json::Value` tree,
//! no map of fields, text borrowed from the row unless the JSON escapes it. The rules are
//! those of a `Value` read (last duplicate wins, integers beyond `i64` stay numbers, nested
//! arrays and objects kept as their JSON text), checked against one in the tests.

use std::borrow::Cow;
use std::fmt;

use finlake_config::ColumnConfig;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One JSON value as a column reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// Every integer that fits in `i64`.
    I64(i64),
    /// Integers above `i64::MAX`.
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
    /// An array or object (rare in rows; read into a tree to keep its text).
    Nested(Value),
}

impl Json<'_> {
    /// The value as JSON text (what a string column keeps of a non-string value).
    pub fn to_json(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::I64(n) => n.to_string(),
            Json::U64(n) => n.to_string(),
            Json::F64(n) => serde_json::Number::from_f64(*n).map_or_else(|| "null".into(), |n| n.to_string()),
            Json::Str(s) => Value::String(s.to_string()).to_string(),
            Json::Nested(v) => v.to_string(),
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(i64::try_from(v).map_or(Json::U64(v), Json::I64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::F64(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Json<'de>, A::Error> {
        Ok(Json::Nested(serde::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Json<'de>, A::Error> {
        Ok(Json::Nested(serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?))
    }
}

impl<'de> serde::Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// The fields of one row, in the order of the columns.
pub struct Fields<'a> {
    /// One per column; `Null` where the row has no such field.
    pub values: Vec<Json<'a>>,
    /// The first field that is no column, if any.
    pub extra: Option<String>,
}

struct RowSeed<'c> {
    columns: &'c [ColumnConfig],
}

/// A field's name, borrowed where it can be.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Fields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Fields<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut values = vec![Json::Null; self.columns.len()];
        let mut extra = None;
        // Plugins mostly write fields in the table's column order: try the next column first.
        let mut next = 0;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let at = if self.columns.get(next).is_some_and(|c| c.name == key) {
                Some(next)
            } else {
                self.columns.iter().position(|c| c.name == key)
            };
            match at {
                Some(i) => {
                    values[i] = map.next_value()?;
                    next = i + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                    extra.get_or_insert_with(|| key.into_owned());
                }
            }
        }
        Ok(Fields { values, extra })
    }
}

/// Reads one row (a JSON object) into one value per column, or says why it is not one.
pub fn decode_object<'a>(json: &'a [u8], columns: &[ColumnConfig]) -> Result<Fields<'a>, String> {
    let mut d = serde_json::Deserializer::from_slice(json);
    let fields = RowSeed { columns }.deserialize(&mut d).and_then(|f| d.end().map(|()| f));
    fields.map_err(|e| {
        let object = json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        if !object && serde_json::from_slice::<IgnoredAny>(json).is_ok() {
            "row is not a JSON object".to_string()
        } else {
            format!("row is not valid JSON: {e}")
        }
    })
}
