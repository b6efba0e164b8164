//! Reply templates for agents: `{entity}` placeholders filled from what the customer wrote
//! (an order number, say), with the ones that could not be filled listed so the agent sees them.

use regex::Regex;
use std::collections::BTreeMap;

/// Entity patterns from the knowledge base (`kb.yaml`, `entities:`), compiled once.
#[derive(Clone, Debug, Default)]
pub struct EntityPatterns {
    patterns: Vec<(String, Regex)>,
}

impl EntityPatterns {
    /// Compiles `name → regex`; a bad pattern is an error naming the entity.
    pub fn compile(patterns: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        let patterns = patterns
            .iter()
            .map(|(name, re)| {
                Regex::new(re)
                    .map(|r| (name.clone(), r))
                    .map_err(|e| anyhow::anyhow!("entity pattern \"{name}\": {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { patterns })
    }

    /// Every match of every pattern in `text`: (entity name, match), pattern by pattern.
    pub fn find_all<'a>(
        &'a self,
        text: &'a str,
    ) -> impl Iterator<Item = (&'a str, regex::Match<'a>)> + 'a {
        self.patterns
            .iter()
            .flat_map(move |(name, re)| re.find_iter(text).map(move |m| (name.as_str(), m)))
    }

    /// The first match of every pattern in `text`.
    pub fn find(&self, text: &str) -> BTreeMap<String, String> {
        self.patterns
            .iter()
            .filter_map(|(name, re)| Some((name.clone(), re.find(text)?.as_str().to_string())))
            .collect()
    }
}

/// A template with its placeholders replaced where a value is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filled {
    /// The template with known placeholders replaced; the others stay as `{name}`.
    pub text: String,
    /// Placeholder names with no value, in order of first appearance, without repeats.
    pub missing: Vec<String>,
}

/// Replaces `{name}` (ASCII letters, digits, `_`) with `values[name]`; unknown names stay as
/// written. Other braces are left alone, so Markdown and prices like `{¥99}` survive.
pub fn fill(template: &str, values: &BTreeMap<String, String>) -> Filled {
    let mut text = String::with_capacity(template.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let is_placeholder = name_len > 0 && after[name_len..].starts_with('}');
        if !is_placeholder {
            text.push('{');
            rest = after;
            continue;
        }
        let name = &after[..name_len];
        match values.get(name) {
            Some(v) => text.push_str(v),
            None => {
                text.push_str(&rest[open..open + name_len + 2]);
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
        }
        rest = &after[name_len + 1..];
    }
    text.push_str(rest);
    Filled { text, missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_known_and_lists_missing() {
        let values = [("order_id".to_string(), "TD2026051112".to_string())].into();
        let f = fill("订单 {order_id} 已发货，{courier} 配送；{courier}", &values);
        assert_eq!(
            f.text,
            "订单 TD2026051112 已发货，{courier} 配送；{courier}"
        );
        assert_eq!(f.missing, vec!["courier"]);
    }

    #[test]
    fn leaves_other_braces_alone() {
        let f = fill("{ not a name } {¥99} {a", &BTreeMap::new());
        assert_eq!(f.text, "{ not a name } {¥99} {a");
        assert!(f.missing.is_empty());
    }

    #[test]
    fn finds_entities_in_mixed_text() {
        let p = EntityPatterns::compile(
            &[(
                "order_id".to_string(),
                r"(?-u:\b)(?:TD\d{10,14}|\d{12,16})(?-u:\b)".to_string(),
            )]
            .into(),
        )
        .unwrap();
        assert_eq!(
            p.find("我的订单TD20260511123还没到 please check")["order_id"],
            "TD20260511123"
        );
        assert!(p.find("no number here").is_empty());
        assert!(EntityPatterns::compile(&[("x".into(), "(".into())].into()).is_err());
    }
}
