//! A JSON Schema (2020-12) validator for the subset `openapi/openapi.json` uses, with coverage.
//!
//! Keywords: `$ref` (JSON pointers into the document), `type` (a name or a list, `null`
//! included), `properties`, `required`, `additionalProperties`, `items`, `minItems`,
//! `maxItems`, `enum`, `const`, `oneOf`, `anyOf`, `allOf`, `minimum`, `maximum`, `minLength`,
//! `maxLength`. Annotations (`description`, `format`, ...) are ignored. Any other keyword is an
//! error ([`Validator::lint`]), so the document cannot lean on a rule nobody checks.
//!
//! Coverage: a successful validation records which `oneOf`/`anyOf` branches matched and which
//! declared properties were present, by schema location, so a test can demand that every
//! branch and every property of the document was seen in a real request or response.

use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// Keywords that only annotate.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "format",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "$comment",
];

/// Keywords that constrain, all implemented below.
const ASSERTIONS: &[&str] = &[
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "allOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
];

/// Validates instances against schemas inside one document (`root`), recording coverage.
pub struct Validator<'a> {
    root: &'a Value,
    /// `oneOf`/`anyOf` location → indices of the branches that matched a valid instance.
    branches: RefCell<BTreeMap<String, BTreeSet<usize>>>,
    /// `properties` location → declared names present in a valid instance.
    properties: RefCell<BTreeMap<String, BTreeSet<String>>>,
}

impl<'a> Validator<'a> {
    pub fn new(root: &'a Value) -> Self {
        Validator {
            root,
            branches: RefCell::default(),
            properties: RefCell::default(),
        }
    }

    /// The value at a JSON pointer (`#/components/schemas/X`) of the document.
    pub fn resolve(&self, reference: &str) -> Option<&'a Value> {
        self.root.pointer(reference.strip_prefix('#')?)
    }

    /// Validates `instance` against the schema at `location` (a `#/...` pointer); on success
    /// records coverage. Errors name the instance path and the schema location.
    pub fn validate_at(&self, location: &str, instance: &Value) -> Result<(), Vec<String>> {
        let schema = self
            .resolve(location)
            .ok_or_else(|| vec![format!("no schema at {location}")])?;
        let mut errors = Vec::new();
        self.check(schema, location, instance, "$", false, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        self.check(schema, location, instance, "$", true, &mut errors);
        Ok(())
    }

    fn check(
        &self,
        schema: &Value,
        loc: &str,
        v: &Value,
        at: &str,
        record: bool,
        errors: &mut Vec<String>,
    ) {
        let fail = |errors: &mut Vec<String>, msg: String| errors.push(format!("{at}: {msg}"));
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return fail(errors, format!("nothing is allowed ({loc})")),
            Value::Object(s) => s,
            _ => return fail(errors, format!("{loc} is not a schema")),
        };
        for key in s.keys() {
            if !ASSERTIONS.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
                fail(errors, format!("unsupported keyword {key:?} at {loc}"));
            }
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(r) {
                Some(target) => self.check(target, r, v, at, record, errors),
                None => fail(errors, format!("unresolvable $ref {r:?} at {loc}")),
            }
        }
        if let Some(t) = s.get("type") {
            let names: Vec<&str> = match t {
                Value::String(n) => vec![n.as_str()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !names.iter().any(|n| has_type(v, n)) {
                fail(
                    errors,
                    format!("{} is not of type {} ({loc})", short(v), names.join("|")),
                );
            }
        }
        if let Some(c) = s.get("const")
            && !same(c, v)
        {
            fail(errors, format!("{} is not {c} ({loc})", short(v)));
        }
        if let Some(Value::Array(options)) = s.get("enum")
            && !options.iter().any(|o| same(o, v))
        {
            fail(
                errors,
                format!(
                    "{} is not one of {} ({loc})",
                    short(v),
                    Value::from(options.clone())
                ),
            );
        }
        if let Some(x) = v.as_f64() {
            if let Some(min) = s.get("minimum").and_then(Value::as_f64)
                && x < min
            {
                fail(errors, format!("{x} < minimum {min} ({loc})"));
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64)
                && x > max
            {
                fail(errors, format!("{x} > maximum {max} ({loc})"));
            }
        }
        if let Some(text) = v.as_str() {
            let chars = text.chars().count() as u64;
            if let Some(min) = s.get("minLength").and_then(Value::as_u64)
                && chars < min
            {
                fail(
                    errors,
                    format!("{chars} characters < minLength {min} ({loc})"),
                );
            }
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
                && chars > max
            {
                fail(
                    errors,
                    format!("{chars} characters > maxLength {max} ({loc})"),
                );
            }
        }
        if let Some(items) = v.as_array() {
            let n = items.len() as u64;
            if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                && n < min
            {
                fail(errors, format!("{n} items < minItems {min} ({loc})"));
            }
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                && n > max
            {
                fail(errors, format!("{n} items > maxItems {max} ({loc})"));
            }
            if let Some(item_schema) = s.get("items") {
                let item_loc = format!("{loc}/items");
                for (i, item) in items.iter().enumerate() {
                    let item_at = format!("{at}[{i}]");
                    self.check(item_schema, &item_loc, item, &item_at, record, errors);
                }
            }
        }
        if let Some(object) = v.as_object() {
            let declared = s.get("properties").and_then(Value::as_object);
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        fail(
                            errors,
                            format!("missing required property {name:?} ({loc})"),
                        );
                    }
                }
            }
            for (name, value) in object {
                let child_at = format!("{at}.{name}");
                match declared.and_then(|d| d.get(name)) {
                    Some(prop_schema) => {
                        let prop_loc = format!("{loc}/properties/{}", escape(name));
                        self.check(prop_schema, &prop_loc, value, &child_at, record, errors);
                    }
                    None => match s.get("additionalProperties") {
                        None | Some(Value::Bool(true)) => {}
                        Some(Value::Bool(false)) => {
                            fail(errors, format!("property {name:?} is not allowed ({loc})"))
                        }
                        Some(extra) => {
                            let extra_loc = format!("{loc}/additionalProperties");
                            self.check(extra, &extra_loc, value, &child_at, record, errors);
                        }
                    },
                }
            }
            if record && let Some(declared) = declared {
                let mut seen = self.properties.borrow_mut();
                let entry = seen.entry(format!("{loc}/properties")).or_default();
                entry.extend(object.keys().filter(|k| declared.contains_key(*k)).cloned());
            }
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            for (i, sub) in all.iter().enumerate() {
                self.check(sub, &format!("{loc}/allOf/{i}"), v, at, record, errors);
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(Value::Array(branches)) = s.get(keyword) else {
                continue;
            };
            let mut matched = Vec::new();
            let mut why = Vec::new();
            for (i, sub) in branches.iter().enumerate() {
                let mut branch_errors = Vec::new();
                let sub_loc = format!("{loc}/{keyword}/{i}");
                self.check(sub, &sub_loc, v, at, false, &mut branch_errors);
                if branch_errors.is_empty() {
                    matched.push(i);
                } else {
                    why.push(format!("[{i}] {}", branch_errors.join("; ")));
                }
            }
            let ok = if keyword == "oneOf" {
                matched.len() == 1
            } else {
                !matched.is_empty()
            };
            if !ok {
                fail(
                    errors,
                    format!(
                        "{keyword} at {loc}: {} branches match {:?}; {}",
                        matched.len(),
                        matched,
                        why.join(" | ")
                    ),
                );
            } else if record {
                for &i in &matched {
                    let sub_loc = format!("{loc}/{keyword}/{i}");
                    self.check(&branches[i], &sub_loc, v, at, true, errors);
                }
                let mut seen = self.branches.borrow_mut();
                seen.entry(format!("{loc}/{keyword}"))
                    .or_default()
                    .extend(matched);
            }
        }
    }

    /// Problems with the schema at `loc` itself: unsupported keywords, malformed keyword
    /// values, `$ref`s that do not resolve. Also returns, through `sites`, every `oneOf`/
    /// `anyOf` (with its branch count) and `properties` location inside, for coverage.
    pub fn lint(&self, schema: &Value, loc: &str, sites: &mut Sites) -> Vec<String> {
        let mut errors = Vec::new();
        self.lint_into(schema, loc, sites, &mut errors);
        errors
    }

    fn lint_into(&self, schema: &Value, loc: &str, sites: &mut Sites, errors: &mut Vec<String>) {
        let s = match schema {
            Value::Bool(_) => return,
            Value::Object(s) => s,
            _ => return errors.push(format!("{loc} is not a schema")),
        };
        for (key, value) in s {
            let ok = match key.as_str() {
                "$ref" => value
                    .as_str()
                    .is_some_and(|r| r.starts_with("#/") && self.resolve(r).is_some()),
                "type" => match value {
                    Value::String(t) => TYPES.contains(&t.as_str()),
                    Value::Array(ts) => {
                        !ts.is_empty()
                            && ts
                                .iter()
                                .all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t)))
                    }
                    _ => false,
                },
                "properties" => value.as_object().is_some_and(|props| {
                    for (name, sub) in props {
                        let sub_loc = format!("{loc}/properties/{}", escape(name));
                        self.lint_into(sub, &sub_loc, sites, errors);
                    }
                    sites
                        .properties
                        .insert(format!("{loc}/properties"), props.keys().cloned().collect());
                    true
                }),
                "required" => value
                    .as_array()
                    .is_some_and(|r| r.iter().all(Value::is_string)),
                "additionalProperties" => {
                    if value.is_object() {
                        self.lint_into(
                            value,
                            &format!("{loc}/additionalProperties"),
                            sites,
                            errors,
                        );
                    }
                    value.is_object() || value.is_boolean()
                }
                "items" => {
                    self.lint_into(value, &format!("{loc}/items"), sites, errors);
                    value.is_object() || value.is_boolean()
                }
                "enum" => value.as_array().is_some_and(|e| !e.is_empty()),
                "const" => true,
                "oneOf" | "anyOf" | "allOf" => value.as_array().is_some_and(|branches| {
                    for (i, sub) in branches.iter().enumerate() {
                        self.lint_into(sub, &format!("{loc}/{key}/{i}"), sites, errors);
                    }
                    if key != "allOf" {
                        sites
                            .branches
                            .insert(format!("{loc}/{key}"), branches.len());
                    }
                    !branches.is_empty()
                }),
                "minimum" | "maximum" => value.is_number(),
                "minLength" | "maxLength" | "minItems" | "maxItems" => value.is_u64(),
                other if ANNOTATIONS.contains(&other) => true,
                other => {
                    errors.push(format!("unsupported keyword {other:?} at {loc}"));
                    continue;
                }
            };
            if !ok {
                errors.push(format!("bad {key:?} at {loc}: {value}"));
            }
        }
    }

    /// `oneOf`/`anyOf` branches of `sites` never matched by a valid instance, and declared
    /// properties never present in one.
    pub fn uncovered(&self, sites: &Sites) -> Vec<String> {
        let mut out = Vec::new();
        let branches = self.branches.borrow();
        for (loc, &count) in &sites.branches {
            let seen = branches.get(loc);
            for i in 0..count {
                if !seen.is_some_and(|s| s.contains(&i)) {
                    out.push(format!("branch never matched: {loc}/{i}"));
                }
            }
        }
        let properties = self.properties.borrow();
        for (loc, names) in &sites.properties {
            let seen = properties.get(loc);
            for name in names {
                if !seen.is_some_and(|s| s.contains(name)) {
                    out.push(format!("property never present: {loc}/{name}"));
                }
            }
        }
        out
    }
}

/// Schema locations worth covering, collected by [`Validator::lint`].
#[derive(Default, Debug)]
pub struct Sites {
    /// `.../oneOf` or `.../anyOf` → number of branches.
    pub branches: BTreeMap<String, usize>,
    /// `.../properties` → declared names.
    pub properties: BTreeMap<String, BTreeSet<String>>,
}

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

fn has_type(v: &Value, name: &str) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "string" => v.is_string(),
        _ => false,
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`, as JSON Schema says).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

/// A JSON pointer segment.
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// An instance, shortened for messages.
fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}
