//! Search templates rendered as Elasticsearch renders them, for the part of Mustache whose
//! output Sluice can predict exactly: variables (`{{name}}`, JSON-escaped; `{{{name}}}` and
//! `{{&name}}`, raw), `{{#toJson}}name{{/toJson}}`, `{{#join}}name{{/join}}` and comments.
//! A template's targets can only be known from what it renders to — a parameter may carry a
//! whole query, a key may be spelled across a tag — so anything else (sections, inverted
//! sections, partials, other delimiters, a missing or non-scalar parameter, a non-integer
//! number) is refused rather than guessed.

use serde_json::Value;

/// The rendered template, or why Sluice cannot render it.
pub fn render(source: &str, params: &Value) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + 64);
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let (tag, raw, tail) = if let Some(t) = after.strip_prefix('{') {
            let end = t.find("}}}").ok_or("an unclosed {{{ tag")?;
            (&t[..end], true, &t[end + 3..])
        } else {
            let end = after.find("}}").ok_or("an unclosed {{ tag")?;
            (&after[..end], false, &after[end + 2..])
        };
        rest = tail;
        let tag = tag.trim();
        match tag.chars().next() {
            Some('!') => {}
            Some('&') => out.push_str(&scalar(params, tag[1..].trim(), true)?),
            Some('#') => {
                let name = tag[1..].trim();
                let close = format!("{{{{/{name}}}}}");
                let end = rest.find(&close).ok_or_else(|| format!("section [{name}] is not closed"))?;
                let inner = rest[..end].trim();
                rest = &rest[end + close.len()..];
                match name {
                    "toJson" => out.push_str(&serde_json::to_string(lookup(params, inner)?).map_err(|e| e.to_string())?),
                    "join" => out.push_str(&join(lookup(params, inner)?, inner)?),
                    _ => return Err(format!("sections ([{name}]) cannot be rendered by Sluice")),
                }
            }
            Some(c @ ('^' | '/' | '>' | '=' | '<' | '$')) => return Err(format!("[{c}] tags cannot be rendered by Sluice")),
            _ => out.push_str(&scalar(params, tag, raw)?),
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A parameter by its dotted name.
fn lookup<'a>(params: &'a Value, name: &str) -> Result<&'a Value, String> {
    if name.is_empty() || name == "." {
        return Err("a tag without a parameter name".into());
    }
    name.split('.').try_fold(params, |v, key| v.get(key).ok_or_else(|| format!("template parameter [{name}] is missing")))
}

/// A string, an integer or a boolean as Elasticsearch renders it; `None` for anything else
/// (a float's text differs between Java and Rust).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// A scalar parameter as text: JSON-escaped unless `raw`.
fn scalar(params: &Value, name: &str, raw: bool) -> Result<String, String> {
    let text = text(lookup(params, name)?).ok_or_else(|| format!("template parameter [{name}] is not a string, an integer or a boolean"))?;
    if raw {
        return Ok(text);
    }
    let quoted = serde_json::to_string(&text).map_err(|e| e.to_string())?;
    Ok(quoted[1..quoted.len() - 1].to_string())
}

fn join(v: &Value, name: &str) -> Result<String, String> {
    let items = v.as_array().ok_or_else(|| format!("template parameter [{name}] is not a list"))?;
    let parts: Option<Vec<String>> = items.iter().map(text).collect();
    Ok(parts.ok_or_else(|| format!("template parameter [{name}] holds more than strings, integers and booleans"))?.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_what_it_can_predict() {
        let p = json!({"q": "say \"hi\"", "n": 10, "on": true, "idx": "secret", "user": {"name": "al"}, "tags": ["a", "b"],
                       "body": {"terms": {"f": {"index": "secret", "id": "1", "path": "p"}}}});
        let cases = [
            (r#"{"query":{"match":{"f":"{{q}}"}},"size":{{n}}}"#, r#"{"query":{"match":{"f":"say \"hi\""}},"size":10}"#),
            (r#"{"query":{{#toJson}}body{{/toJson}}}"#, r#"{"query":{"terms":{"f":{"id":"1","index":"secret","path":"p"}}}}"#),
            (r#"{"a":"{{{q}}}","b":"{{& q }}","c":"{{user.name}}","d":"{{#join}}tags{{/join}}","e":{{on}}{{! note }}}"#, r#"{"a":"say "hi"","b":"say "hi"","c":"al","d":"a,b","e":true}"#),
            (r#"{"i":"in{{ idx }}dex"}"#, r#"{"i":"insecretdex"}"#),
            ("no tags", "no tags"),
        ];
        for (src, want) in cases {
            assert_eq!(render(src, &p).as_deref(), Ok(want), "{src}");
        }
    }

    #[test]
    fn refuses_what_it_cannot() {
        let p = json!({"x": 1.5, "o": {"a": 1}, "l": [{"a": 1}], "s": "v"});
        for src in [
            "{{#s}}x{{/s}}", "{{^s}}x{{/s}}", "{{> part}}", "{{=<% %>=}}", "{{missing}}", "{{x}}", "{{o}}", "{{#join}}l{{/join}}",
            "{{#join}}s{{/join}}", "{{#toJson}}missing{{/toJson}}", "{{s", "{{{s}}", "{{#toJson}}s", "{{.}}", "{{#url}}s{{/url}}",
        ] {
            assert!(render(src, &p).is_err(), "{src}");
        }
    }
}
