//! `deploy/`: the SpinKube `SpinApp` validated against the SpinApp CRD's OpenAPI v3 schema
//! (`../shared/reference/spinkube/core.spinkube.dev_spinapps.yaml`, beside the repository), its
//! secrets, health checks and stores held against `spin.toml`, and the runtime-config examples
//! held against the local host.

mod redis_server;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use tandem_tests::{Host, HostOptions, probe_manifest, workspace_root};
use tempfile::TempDir;

fn deploy(file: &str) -> PathBuf {
    workspace_root().join("deploy").join(file)
}

/// The documents of a YAML stream (split on `---` lines).
fn read_yaml_documents(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else {
            let doc = docs.last_mut().unwrap();
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .map(|d| {
            serde_yaml::from_str::<Value>(d).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A small validator for Kubernetes' structural OpenAPI v3 schemas: what the API server checks
// on `kubectl apply` (with strict field validation, the default since Kubernetes 1.27).

/// The CRD's schema for `apiVersion` (`group/version`), or what is wrong with it.
fn crd_schema(crd: &Value, api_version: &str) -> Result<Value, String> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().ok_or("the CRD has no group")?;
    let version = api_version
        .strip_prefix(&format!("{group}/"))
        .ok_or_else(|| format!("apiVersion: `{api_version}` is not in group {group}"))?;
    let versions = spec["versions"]
        .as_sequence()
        .ok_or("the CRD has no versions")?;
    let v = versions
        .iter()
        .find(|v| v["name"].as_str() == Some(version) && v["served"].as_bool() == Some(true))
        .ok_or_else(|| format!("apiVersion: the CRD serves no version `{version}`"))?;
    Ok(v["schema"]["openAPIV3Schema"].clone())
}

/// Validates a whole object (apiVersion, kind, metadata, spec) against the CRD.
fn validate_resource(crd: &Value, object: &Value) -> Vec<String> {
    let api_version = object["apiVersion"].as_str().unwrap_or("");
    let kind = object["kind"].as_str().unwrap_or("");
    let mut errors = Vec::new();
    if kind != crd["spec"]["names"]["kind"].as_str().unwrap_or("") {
        errors.push(format!("kind: `{kind}` is not the CRD's kind"));
        return errors;
    }
    let schema = match crd_schema(crd, api_version) {
        Ok(schema) => schema,
        Err(e) => return vec![e],
    };
    validate(&schema, object, "", &mut errors);
    // `metadata` is `type: object` in every CRD; the API server checks it as ObjectMeta.
    validate(
        &object_meta_schema(),
        &object["metadata"],
        ".metadata",
        &mut errors,
    );
    errors
}

/// The part of ObjectMeta a manifest sets.
fn object_meta_schema() -> Value {
    serde_yaml::from_str(
        r#"
type: object
required: [name]
properties:
  name: {type: string}
  namespace: {type: string}
  labels: {type: object, additionalProperties: {type: string}}
  annotations: {type: object, additionalProperties: {type: string}}
"#,
    )
    .unwrap()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "array",
        Value::Mapping(_) => "object",
        Value::Tagged(_) => "tagged",
    }
}

fn flag(schema: &Value, key: &str) -> bool {
    schema[key].as_bool() == Some(true)
}

/// Appends to `errors` every way `value` (at `path`) breaks `schema`.
fn validate(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let at = if path.is_empty() { "." } else { path };
    if value.is_null() {
        if !flag(schema, "nullable") {
            errors.push(format!("{at}: null is not allowed"));
        }
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !matches!(type_name(value), "integer" | "string") {
            errors.push(format!("{at}: must be an integer or a string"));
        }
    } else if let Some(t) = schema["type"].as_str() {
        let actual = type_name(value);
        let ok = actual == t || (t == "number" && actual == "integer");
        if !ok {
            errors.push(format!("{at}: must be of type {t}, not {actual}"));
            return;
        }
        if schema["format"].as_str() == Some("int32")
            && value.as_i64().is_none_or(|n| i32::try_from(n).is_err())
        {
            errors.push(format!("{at}: out of int32 range"));
        }
    }
    if let Some(options) = schema["enum"].as_sequence()
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value:?} is not one of {options:?}"));
    }
    if let Some(branches) = schema["anyOf"].as_sequence()
        && !branches.iter().any(|b| {
            let mut e = Vec::new();
            validate(b, value, path, &mut e);
            e.is_empty()
        })
    {
        errors.push(format!("{at}: matches none of anyOf"));
    }
    if let Some(min) = schema["minimum"].as_f64()
        && value.as_f64().is_some_and(|n| n < min)
    {
        errors.push(format!("{at}: below the minimum {min}"));
    }
    match value {
        Value::Mapping(map) => {
            if let Some(required) = schema["required"].as_sequence() {
                for key in required {
                    if !map.contains_key(key) {
                        errors.push(format!(
                            "{at}: required field `{}` is missing",
                            key.as_str().unwrap_or("?")
                        ));
                    }
                }
            }
            let properties = schema["properties"].as_mapping();
            let additional = &schema["additionalProperties"];
            for (key, child) in map {
                let name = key.as_str().unwrap_or("?");
                let child_path = format!("{path}.{name}");
                if path.is_empty() && name == "metadata" {
                    // The API server checks it as ObjectMeta (`validate_resource`).
                } else if let Some(sub) = properties.and_then(|p| p.get(key)) {
                    validate(sub, child, &child_path, errors);
                } else if additional.is_mapping() {
                    validate(additional, child, &child_path, errors);
                } else if additional.as_bool() == Some(true)
                    || flag(schema, "x-kubernetes-preserve-unknown-fields")
                {
                    // Kept as it is.
                } else {
                    errors.push(format!("{child_path}: unknown field `{name}`"));
                }
            }
        }
        Value::Sequence(items) => {
            if let Some(min) = schema["minItems"].as_u64()
                && (items.len() as u64) < min
            {
                errors.push(format!("{at}: fewer than {min} items"));
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(item_schema, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

fn crd() -> Value {
    let path =
        workspace_root().join("../shared/reference/spinkube/core.spinkube.dev_spinapps.yaml");
    let docs = read_yaml_documents(&path);
    docs.into_iter()
        .find(|d| d["kind"].as_str() == Some("CustomResourceDefinition"))
        .expect("the SpinApp CRD")
}

fn spinapp() -> Value {
    let docs = read_yaml_documents(&deploy("spinapp.yaml"));
    assert_eq!(docs.len(), 1, "deploy/spinapp.yaml holds one SpinApp");
    docs.into_iter().next().unwrap()
}

#[test]
fn spinapp_validates_against_the_crd_schema() {
    let errors = validate_resource(&crd(), &spinapp());
    assert!(
        errors.is_empty(),
        "deploy/spinapp.yaml:\n{}",
        errors.join("\n")
    );
}

#[test]
fn broken_spinapps_are_rejected_by_the_validator() {
    let crd = crd();
    /// What is broken, how, and the error the validator must give.
    type Case = (&'static str, fn(&mut Value), &'static str);
    let cases: [Case; 7] = [
        (
            "replicas as a word",
            |a| a["spec"]["replicas"] = Value::from("three"),
            ".spec.replicas: must be of type integer",
        ),
        (
            "a misspelt field",
            |a| {
                let spec = a["spec"].as_mapping_mut().unwrap();
                let replicas = spec.remove("replicas").unwrap();
                spec.insert("replica".into(), replicas);
            },
            ".spec.replica: unknown field",
        ),
        (
            "a key-value store without its type",
            |a| {
                a["spec"]["runtimeConfig"]["keyValueStores"][0]
                    .as_mapping_mut()
                    .unwrap()
                    .remove("type");
            },
            ".spec.runtimeConfig.keyValueStores[0]: required field `type` is missing",
        ),
        (
            "a secret reference without its key",
            |a| {
                a["spec"]["variables"][0]["valueFrom"]["secretKeyRef"]
                    .as_mapping_mut()
                    .unwrap()
                    .remove("key");
            },
            ".spec.variables[0].valueFrom.secretKeyRef: required field `key` is missing",
        ),
        (
            "a probe path as a number",
            |a| a["spec"]["checks"]["liveness"]["httpGet"]["path"] = Value::from(8080),
            ".spec.checks.liveness.httpGet.path: must be of type string",
        ),
        (
            "an int-or-string resource as a list",
            |a| a["spec"]["resources"]["limits"]["cpu"] = serde_yaml::from_str("[1]").unwrap(),
            ".spec.resources.limits.cpu",
        ),
        (
            "the wrong API version",
            |a| a["apiVersion"] = Value::from("core.spinkube.dev/v9"),
            "apiVersion: the CRD serves no version `v9`",
        ),
    ];
    for (what, break_it, expected) in cases {
        let mut app = spinapp();
        break_it(&mut app);
        let errors = validate_resource(&crd, &app);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{what}: expected an error containing {expected:?}, got {errors:?}"
        );
    }
}

/// `key_value_stores`/`sqlite_databases` labels and required variables of spin.toml, read
/// line by line (the manifest's own parser is the host's; this keeps the test independent).
fn spin_toml_labels(key: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.trim().strip_prefix('='))
        .flat_map(|list| {
            list.trim()
                .trim_matches(['[', ']'])
                .split(',')
                .map(|s| s.trim().trim_matches('"').to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn names(list: &Value) -> BTreeSet<String> {
    list.as_sequence()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn spinapp_matches_the_app_it_deploys() {
    let app = spinapp();
    let spec = &app["spec"];
    assert!(spec["replicas"].as_u64().unwrap() >= 2, "replicas");

    // Health checks on the components' health routes, which spin.toml serves.
    let manifest = std::fs::read_to_string(workspace_root().join("spin.toml")).unwrap();
    for probe in ["liveness", "readiness"] {
        let path = spec["checks"][probe]["httpGet"]["path"].as_str().unwrap();
        assert!(
            path == "/v1/health"
                || (path.starts_with("/v1/") && path.ends_with("/health") && path.len() > 11),
            "{probe} checks {path}"
        );
        let route = path.trim_end_matches("health");
        assert!(
            manifest.contains(&format!("route = \"{path}\""))
                || manifest.contains(&format!("route = \"{route}...\"")),
            "{probe}: spin.toml serves no route for {path}"
        );
    }

    // The stores spin.toml grants are exactly the ones configured, on shared engines.
    let rc = &spec["runtimeConfig"];
    assert_eq!(
        names(&rc["keyValueStores"]),
        spin_toml_labels("key_value_stores")
    );
    assert_eq!(
        names(&rc["sqliteDatabases"]),
        spin_toml_labels("sqlite_databases")
    );
    for (list, kind, options) in [
        ("keyValueStores", "redis", &["url"][..]),
        ("sqliteDatabases", "libsql", &["url", "token"][..]),
    ] {
        for store in rc[list].as_sequence().unwrap() {
            assert_eq!(store["type"].as_str(), Some(kind), "{list}");
            let given: BTreeSet<&str> = store["options"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|o| o["name"].as_str().unwrap())
                .collect();
            assert_eq!(given, options.iter().copied().collect(), "{list} options");
            for option in store["options"].as_sequence().unwrap() {
                assert!(
                    option["valueFrom"]["secretKeyRef"].is_mapping(),
                    "{list}: {:?} is not read from a Secret",
                    option["name"]
                );
            }
        }
    }

    // The required (secret) variable comes from a Secret, never inline.
    let agent_token = spec["variables"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some("agent_token"))
        .expect("agent_token is bound");
    assert!(agent_token["value"].is_null(), "agent_token is inline");
    assert!(agent_token["valueFrom"]["secretKeyRef"].is_mapping());
}

/// Every `secretKeyRef` under `value`.
fn secret_refs(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some("secretKeyRef") {
                    out.push((
                        v["name"].as_str().unwrap().to_string(),
                        v["key"].as_str().unwrap().to_string(),
                    ));
                } else {
                    secret_refs(v, out);
                }
            }
        }
        Value::Sequence(s) => s.iter().for_each(|v| secret_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_secret_the_spinapp_reads_is_in_the_example_secrets() {
    let mut refs = Vec::new();
    secret_refs(&spinapp(), &mut refs);
    assert!(refs.len() >= 4, "{refs:?}");
    let secrets = read_yaml_documents(&deploy("secrets.example.yaml"));
    for (name, key) in refs {
        let secret = secrets
            .iter()
            .find(|s| {
                s["kind"].as_str() == Some("Secret")
                    && s["metadata"]["name"].as_str() == Some(&name)
            })
            .unwrap_or_else(|| panic!("no Secret {name} in deploy/secrets.example.yaml"));
        assert!(
            secret["stringData"][key.as_str()].is_string(),
            "Secret {name} has no key {key}"
        );
    }
}

const TOKEN: (&str, &str) = ("SPIN_VARIABLE_API_TOKEN", "t0ken");

/// `tandem up` run from `cwd` (the example's SQLite path is relative to the working directory,
/// as in Spin); killed on drop.
struct HostIn {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl HostIn {
    fn start(cwd: &Path, args: &[&str]) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(tandem_tests::host_binary())
            .arg("up")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(cwd)
            .env(TOKEN.0, TOKEN.1)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if !sent && let Some(addr) = line.strip_prefix("Serving http://") {
                    let _ = tx.send(addr.trim().to_string());
                    sent = true;
                }
            }
        });
        let addr = rx
            .recv_timeout(std::time::Duration::from_secs(300))
            .expect("tandem up did not serve");
        Self {
            child,
            addr: addr.parse().unwrap(),
        }
    }

    fn get(&self, path: &str) -> tandem_tests::HttpResponse {
        tandem_tests::request(self.addr, "GET", path, tandem_tests::Body::Empty).unwrap()
    }
}

impl Drop for HostIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_local_host_loads_the_local_runtime_config_example() {
    // Same labels as the app the example is for.
    assert_eq!(
        spin_toml_labels("key_value_stores"),
        ["default".to_string()].into()
    );
    assert_eq!(
        spin_toml_labels("sqlite_databases"),
        ["default".to_string()].into()
    );

    // The example as it is, but for the Redis port: the tests' own server on a free port.
    let redis = redis_server::RedisServer::start();
    let example = std::fs::read_to_string(deploy("runtime-config.local.toml")).unwrap();
    assert_eq!(example.matches("redis://127.0.0.1:6379").count(), 1);
    let text = example.replace("redis://127.0.0.1:6379", &redis.url());
    // Laid out as the repository is, and run from its root as the example says.
    let root = TempDir::new().unwrap();
    std::fs::create_dir_all(root.path().join("deploy")).unwrap();
    std::fs::write(root.path().join("deploy/runtime-config.local.toml"), text).unwrap();
    probe_manifest(root.path());
    let data = root.path().join("data").display().to_string();
    let host = HostIn::start(
        root.path(),
        &[
            "--from",
            "spin.toml",
            "--data-dir",
            &data,
            "--runtime-config-file",
            "deploy/runtime-config.local.toml",
        ],
    );
    let set = host.get("/probe/kv?key=k&value=v");
    assert_eq!(set.status, 200, "{}", set.text());
    let db = host.get("/probe/sqlite");
    assert_eq!(db.status, 200, "{}", db.text());
    // SQLite where `./dev up` keeps it; key-value in Redis, not in the data dir.
    assert!(root.path().join(".spin/sqlite_db.db").is_file());
    assert!(!root.path().join("data/sqlite_key_value.db").exists());
}

#[test]
fn the_local_host_refuses_the_platform_example_for_its_libsql() {
    let text = std::fs::read_to_string(deploy("runtime-config.cloud.toml")).unwrap();
    // What Spin expects there: Redis key-value and libSQL SQLite for the app's labels.
    assert!(text.contains("[key_value_store.default]\ntype = \"redis\""));
    assert!(text.contains("[sqlite_database.default]\ntype = \"libsql\""));
    let root = TempDir::new().unwrap();
    let manifest = probe_manifest(root.path());
    let config = deploy("runtime-config.cloud.toml").display().to_string();
    let err = match Host::start(
        &manifest,
        &root.path().join("data"),
        HostOptions {
            args: vec!["--runtime-config-file", &config],
            env: vec![TOKEN],
        },
    ) {
        Ok(_) => panic!("tandem up served the libSQL example"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("libsql") && err.contains("SpinKube"), "{err}");
}
