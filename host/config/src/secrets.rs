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

/// (dotted name, span of the value) of every secret in `text`.
fn secret_spans(text: &str) -> Option<Vec<(String, Range<usize>)>> {
    let root = DeTable::parse(text).ok()?;
    let mut out = Vec::new();
    for (key, value) in root.get_ref().iter() {
        let DeValue::Table(section) = value.get_ref() else { continue };
        match key.get_ref().as_ref() {
            "api" => {
                for (k, v) in section.iter() {
                    if k.get_ref().as_ref() == "token" {
                        out.push(("api.token".to_string(), v.span()));
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
                            out.push((format!("kafka.properties.{name}"), pv.span()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|(_, span)| span.start);
    Some(out)
}

fn placeholder(name: &str) -> String {
    format!("\"{REDACTED_PREFIX}{name}>\"")
}

/// `text` with every secret value replaced by a placeholder naming it. Text that does not
/// parse is not shown at all (it could hold a secret anywhere).
pub fn redact(text: &str) -> String {
    let Some(spans) = secret_spans(text) else {
        return "# (the config in effect could not be parsed for redaction, so it is not shown)\n".into();
    };
    let mut out = text.to_string();
    for (name, span) in spans.iter().rev() {
        out.replace_range(span.clone(), &placeholder(name));
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
    for (name, span) in spans.iter().rev() {
        if edited[span.clone()] != placeholder(name) {
            continue;
        }
        let Some((_, old)) = known.iter().find(|(n, _)| n == name) else {
            return Err(format!("{name} is the placeholder {}; write the secret itself", placeholder(name)));
        };
        out.replace_range(span.clone(), &current[old.clone()]);
    }
    if out.contains(&format!("\"{REDACTED_PREFIX}")) {
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
}
