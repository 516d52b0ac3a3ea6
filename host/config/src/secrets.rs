//! Secrets in `pipelines.toml` (`[api] token`, Kafka passwords): never shown by the API.
//!
//! [`redact`] replaces each secret's value in the text with a placeholder naming it
//! (`"<redacted:api.token>"`), so the text stays valid TOML and keeps its comments and layout.
//! [`unredact`] puts the values back into an edited text whose placeholders were left alone,
//! so the dashboard's config editor can save a file it was only shown redacted.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Start of a placeholder string.
pub const REDACTED_PREFIX: &str = "<redacted:";

/// Whether a librdkafka property holds a secret (passwords, keys, JAAS and OAuth settings).
pub fn is_secret_property(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "jaas", "key.pem", "oauthbearer.config", "credentials"]
        .iter()
        .any(|s| k.contains(s))
}

/// One secret's value in a text.
struct Secret {
    /// Dotted name, as the placeholder shows it (`kafka.properties.sasl.password`).
    name: String,
    /// Byte range of the value, quotes included.
    span: Range<usize>,
    /// The value when it is a string (after TOML unescaping).
    text: Option<String>,
}

fn secret(name: String, value: &toml::Spanned<DeValue<'_>>) -> Secret {
    let text = match value.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        _ => None,
    };
    Secret { name, span: value.span(), text }
}

/// Every secret in `text`, in order.
fn secret_spans(text: &str) -> Option<Vec<Secret>> {
    let root = DeTable::parse(text).ok()?;
    let mut out = Vec::new();
    for (key, value) in root.get_ref().iter() {
        let DeValue::Table(section) = value.get_ref() else { continue };
        match key.get_ref().as_ref() {
            "api" => {
                for (k, v) in section.iter() {
                    if k.get_ref().as_ref() == "token" {
                        out.push(secret("api.token".to_string(), v));
                    }
                }
            }
            "kafka" => {
                for (k, v) in section.iter() {
                    if k.get_ref().as_ref() != "properties" {
                        continue;
                    }
                    let DeValue::Table(props) = v.get_ref() else { continue };
                    for (pk, pv) in props.iter() {
                        let name = pk.get_ref().as_ref();
                        if is_secret_property(name) {
                            out.push(secret(format!("kafka.properties.{name}"), pv));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|s| s.span.start);
    Some(out)
}

/// The placeholder's string value. A property name may hold any character, so the value is
/// written with TOML escaping ([`placeholder`]) and compared after parsing, never as raw text.
fn placeholder_value(name: &str) -> String {
    format!("{REDACTED_PREFIX}{name}>")
}

/// The placeholder as a TOML string literal.
fn placeholder(name: &str) -> String {
    toml::Value::String(placeholder_value(name)).to_string()
}

/// `text` with every secret value replaced by a placeholder naming it. Text that does not
/// parse is not shown at all (it could hold a secret anywhere).
pub fn redact(text: &str) -> String {
    let Some(spans) = secret_spans(text) else {
        return "# (the config in effect could not be parsed for redaction, so it is not shown)\n".into();
    };
    let mut out = text.to_string();
    for s in spans.iter().rev() {
        out.replace_range(s.span.clone(), &placeholder(&s.name));
    }
    out
}

/// `edited` with each placeholder that is still in place replaced by the value `current`
/// holds for that secret. A placeholder for a secret `current` does not have is an error.
pub fn unredact(edited: &str, current: &str) -> Result<String, String> {
    if !edited.contains(REDACTED_PREFIX) {
        return Ok(edited.to_string());
    }
    let Some(spans) = secret_spans(edited) else { return Ok(edited.to_string()) };
    let known = secret_spans(current).unwrap_or_default();
    let mut out = edited.to_string();
    for s in spans.iter().rev() {
        if s.text.as_deref() != Some(placeholder_value(&s.name).as_str()) {
            continue;
        }
        let Some(old) = known.iter().find(|k| k.name == s.name) else {
            return Err(format!("{} is the placeholder {}; write the secret itself", s.name, placeholder(&s.name)));
        };
        out.replace_range(s.span.clone(), &current[old.span.clone()]);
    }
    if out.contains(REDACTED_PREFIX) {
        return Err("a redaction placeholder was moved or renamed; put the secret itself there".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# comment\n[api]\ntoken = \"s3cr3t-token\" # keep\n\n[kafka]\nbrokers = \"b:9092\"\nproperties = { \"sasl.password\" = 'pw-123', \"client.id\" = \"c\" }\n";

    #[test]
    fn secrets_are_replaced_and_restored() {
        let shown = redact(TEXT);
        assert!(!shown.contains("s3cr3t-token") && !shown.contains("pw-123"), "{shown}");
        assert!(shown.contains("token = \"<redacted:api.token>\" # keep"), "{shown}");
        assert!(shown.contains("\"client.id\" = \"c\""));
        assert!(toml::from_str::<toml::Table>(&shown).is_ok());
        let edited = shown.replace("b:9092", "c:9092");
        let restored = unredact(&edited, TEXT).unwrap();
        assert_eq!(restored, TEXT.replace("b:9092", "c:9092"));
        // A secret changed on purpose stays changed.
        let changed = edited.replace("\"<redacted:api.token>\"", "\"new\"");
        assert!(unredact(&changed, TEXT).unwrap().contains("token = \"new\""));
        assert!(unredact(&shown, "[api]\n").is_err());
    }

    /// Found by `xtask/fuzz.sh config`: a property name with an escaped control character
    /// made a placeholder that was not valid TOML, so saving it back lost the secret.
    #[test]
    fn names_with_escapes_round_trip() {
        let text = "[kafka]\nproperties = { \":saslkey.pem\\rd\" = \"s3crnt\" }\n";
        let shown = redact(text);
        assert!(!shown.contains("s3crnt") && toml::from_str::<toml::Table>(&shown).is_ok(), "{shown}");
        assert_eq!(unredact(&shown, text).as_deref(), Ok(text));
    }
}
