//! A component's `allowed_outbound_hosts`, parsed and matched with Spin's rules. A leaf: the
//! manifest checks its entries with it at parse time.
//!
//! The rules are those of Spin's `spin-outbound-networking-config` crate
//! (`crates/outbound-networking-config/src/allowed_hosts.rs`, `AllowedHostConfig`):
//!
//! - an entry is `<scheme>://<host>[:<port>]`; a trailing `/` is tolerated, a path is not;
//! - scheme: a word of letters, or `*` for any scheme;
//! - host: a name or IP literal (`[::1]` for IPv6), `*` for any host, `*.example.com` for
//!   every subdomain of `example.com` (not `example.com` itself), or a CIDR range
//!   (`10.0.0.0/8`, which matches requests addressed to an IP in it);
//! - port: a number, `*` for any port, or a range `8000..9000` (end excluded, as in Spin);
//!   without a port, the scheme's well-known port (`http` 80, `https` 443, ...), and an entry
//!   without a port whose scheme has none (`*://host`) is an error;
//! - `{{ variable }}` templates over application variables; one entry gives at most one
//!   allowed host: Spin does not split a resolved value into several. A value resolving to
//!   `""`, `http://` or `https://` is skipped (Spin's "optional endpoint");
//! - `insecure:allow-all` is refused, as by Spin (`*://*:*` allows everything).
//!
//! Spin also understands `self` / `self.alt` (requests to the application itself) and
//! `*.spin.internal` (service chaining). This host routes neither, so it refuses them at load
//! rather than run a manifest that would behave differently than under Spin. It also refuses a
//! host containing `,`: Spin would accept it as one (never matching) host name, and it is
//! almost always an attempt to list several hosts in one variable.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{Context, Result, bail, ensure};
use url::Host;

use crate::factors::variables::expressions::{AppVariable, Template, Value};

/// The domain Spin uses for service chaining (`http://<component>.spin.internal`).
const SERVICE_CHAINING_SUFFIX: &str = ".spin.internal";

/// One `allowed_outbound_hosts` entry as written in the manifest.
#[derive(Debug, Clone)]
pub struct HostEntry {
    /// The entry as written.
    pub text: String,
    /// The entry as a template over application variables (a literal when it uses none).
    pub template: Template,
    /// `manifest:line`, for messages.
    pub at: String,
}

/// The scheme part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    Exact(String),
}

impl SchemePattern {
    fn parse(scheme: &str) -> Result<Self> {
        if scheme == "*" {
            return Ok(Self::Any);
        }
        if scheme.starts_with('{') {
            bail!("scheme lists are not supported");
        }
        if scheme.chars().any(|c| !c.is_alphabetic()) {
            bail!("only alphabetic characters are allowed");
        }
        Ok(Self::Exact(scheme.to_string()))
    }

    fn allows(&self, scheme: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(s) => s == scheme,
        }
    }
}

/// The host part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`, kept as `.example.com`.
    AnySubdomain(String),
    /// `self` / `self.alt`: requests to the application itself (refused by this host).
    ToSelf,
    Literal(Host),
    Cidr(IpAddr, u8),
}

impl HostPattern {
    fn parse(host: &str) -> Result<Self> {
        let mut host = host.trim();
        if host == "*" {
            return Ok(Self::Any);
        }
        if host == "self" || host == "self.alt" {
            return Ok(Self::ToSelf);
        }
        if host.starts_with('{') {
            ensure!(host.ends_with('}'), "unterminated host list");
            bail!("host lists are not yet supported");
        }
        if let Some((ip, prefix)) = cidr(host) {
            return Ok(Self::Cidr(ip, prefix));
        }
        host = host.strip_suffix('/').unwrap_or(host);
        if host.contains('/') {
            bail!("must not include a path");
        }
        if let Some(domain) = host.strip_prefix("*.") {
            if domain.contains('*') {
                bail!("wildcards are allowed only as prefixes");
            }
            let domain = Host::parse(domain)
                .with_context(|| format!("invalid wildcard host \"*.{domain}\""))?;
            let Host::Domain(domain) = domain else {
                bail!("wildcard suffix must be a domain");
            };
            return Ok(Self::AnySubdomain(format!(".{domain}")));
        }
        if host.contains('*') {
            bail!("wildcards are allowed only as subdomains");
        }
        Ok(Self::Literal(Host::parse(host)?))
    }

    fn allows(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::AnySubdomain(suffix), Host::Domain(domain)) => domain.ends_with(suffix.as_str()),
            (Self::Literal(literal), host) => host == literal,
            (Self::Cidr(net, prefix), Host::Ipv4(ip)) => in_network(*net, *prefix, IpAddr::V4(*ip)),
            (Self::Cidr(net, prefix), Host::Ipv6(ip)) => in_network(*net, *prefix, IpAddr::V6(*ip)),
            (Self::AnySubdomain(_) | Self::Cidr(..) | Self::ToSelf, _) => false,
        }
    }
}

/// `ip/prefix` (CIDR notation), host bits dropped, as `ip_network::IpNetwork::from_str_truncate`.
fn cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, prefix) = text.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then(|| (truncate(ip, prefix), prefix))
}

fn truncate(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

fn in_network(net: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    net.is_ipv4() == ip.is_ipv4() && truncate(ip, prefix) == net
}

/// The port part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    /// `start..end`, end excluded (Spin's `Range<u16>`).
    Range(u16, u16),
}

impl PortPattern {
    fn parse(port: &str, scheme: &str) -> Result<Self> {
        if port.is_empty() {
            return well_known_port(scheme).map(Self::Port).with_context(|| {
                format!(
                    "no port was provided and the scheme {scheme:?} does not have a known \
                     default port number"
                )
            });
        }
        if port == "*" {
            return Ok(Self::Any);
        }
        if port.starts_with('{') {
            bail!("port lists are not yet supported");
        }
        if let Some((start, end)) = port.split_once("..") {
            let start = start
                .parse()
                .with_context(|| format!("port range {port:?} contains non-number"))?;
            let end = end
                .parse()
                .with_context(|| format!("port range {port:?} contains non-number"))?;
            return Ok(Self::Range(start, end));
        }
        Ok(Self::Port(port.parse().with_context(|| {
            format!("port {port:?} is not a number")
        })?))
    }

    fn allows(&self, port: Option<u16>, scheme: &str) -> bool {
        let Some(port) = port.or_else(|| well_known_port(scheme)) else {
            return matches!(self, Self::Any);
        };
        match self {
            Self::Any => true,
            Self::Port(p) => *p == port,
            Self::Range(start, end) => (*start..*end).contains(&port),
        }
    }
}

/// Spin's default ports by scheme.
fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

impl AllowedHost {
    /// Parses an entry exactly as Spin's `AllowedHostConfig::parse` does.
    fn parse_spin(entry: &str) -> Result<Self> {
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            match url {
                "*" | ":" | "" | "?" => bail!(
                    "{url:?} is not an allowed outbound host format: hosts must be in the form \
                     <scheme>://<host>[:<port>], with '*' wildcards allowed for each \
                     ('*://*:*' allows all outbound networking)"
                ),
                _ => bail!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')"),
            }
        };
        let (host, port) = match rest.rsplit_once(':') {
            None => (rest, ""),
            Some((h, "")) => (h, ""),
            Some((h, tail)) => {
                // `http://[::1]` or `http://10.0.0.0/8`: the last `:` is part of the host.
                if HostPattern::parse(rest).is_ok() {
                    (rest, "")
                } else {
                    let port = match tail.split_once('/') {
                        Some((port, path)) => {
                            ensure!(path.is_empty(), "{url:?} has a path but is not allowed to");
                            port
                        }
                        None => tail,
                    };
                    (h, port)
                }
            }
        };
        let port = PortPattern::parse(port, scheme)
            .with_context(|| format!("invalid allowed host port {port:?}"))?;
        let scheme = SchemePattern::parse(scheme)
            .with_context(|| format!("invalid allowed host scheme {scheme:?}"))?;
        let host =
            HostPattern::parse(host).with_context(|| format!("invalid allowed host {host:?}"))?;
        Ok(Self {
            original: entry.to_string(),
            scheme,
            host,
            port,
        })
    }

    /// Parses an entry with Spin's rules, then refuses what this host does not serve.
    pub fn parse(entry: &str) -> Result<Self> {
        if entry.trim() == "insecure:allow-all" {
            bail!(
                "'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want \
                 to allow all outbound traffic"
            );
        }
        // (`{a,b}` lists get Spin's own "not supported" message below.)
        if entry.contains(',') && !entry.contains('{') {
            bail!(
                "one entry allows one host (Spin does not split a value at commas); write one \
                 entry per host, e.g. [\"https://{{{{ host_a }}}}\", \"https://{{{{ host_b }}}}\"]"
            );
        }
        let parsed = Self::parse_spin(entry)?;
        match &parsed.host {
            HostPattern::ToSelf => {
                bail!("requests to the application itself (`self`) are not supported by this host")
            }
            HostPattern::AnySubdomain(d) if d == SERVICE_CHAINING_SUFFIX => {
                bail!("service chaining (`*.spin.internal`) is not supported by this host")
            }
            HostPattern::Literal(Host::Domain(d)) if d.ends_with(SERVICE_CHAINING_SUFFIX) => {
                bail!(
                    "service chaining (`<component>.spin.internal`) is not supported by this host"
                )
            }
            _ => Ok(parsed),
        }
    }

    /// Whether a request to `scheme://host[:port]` is allowed by this entry.
    fn allows(&self, scheme: &str, host: &Host, port: Option<u16>) -> bool {
        self.scheme.allows(scheme) && self.host.allows(host) && self.port.allows(port, scheme)
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

/// Spin skips a templated entry that resolves to nothing, so an optional endpoint can be left
/// unset; a literal empty entry stays an error.
fn parse_resolved(resolved: &str) -> Result<Option<AllowedHost>> {
    if resolved.is_empty() || resolved == "http://" || resolved == "https://" {
        Ok(None)
    } else {
        AllowedHost::parse(resolved).map(Some)
    }
}

/// Checks one manifest entry at load: its template and variables, and the entry itself when it
/// is a literal or when every variable it uses has a default (as Spin's loader validates).
pub fn check_entry(text: &str, app_vars: &BTreeMap<String, AppVariable>) -> Result<Template> {
    let template = Template::parse(text)?;
    if let Some(missing) = template.references().find(|r| !app_vars.contains_key(*r)) {
        bail!("refers to `{missing}`, which is not in `[variables]`");
    }
    if template.references().next().is_none() {
        AllowedHost::parse(text)?;
    } else if let Ok(resolved) =
        template.render(|v| app_vars.get(v).and_then(|var| var.default.clone()))
    {
        let secret = template
            .references()
            .any(|r| app_vars.get(r).is_some_and(|v| v.secret));
        if let Err(e) = parse_resolved(&resolved) {
            if secret {
                // The parse error would quote the value.
                bail!("with the variables' default values it is invalid (not shown: secret)");
            }
            return Err(e.context(format!(
                "with the variables' default values it reads {resolved:?}, which is invalid"
            )));
        }
    }
    Ok(template)
}

/// A component's allow-list, its templates resolved. Empty: every request is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    hosts: Vec<AllowedHost>,
}

impl AllowedHosts {
    /// Parses literal entries (no templates); for tests and callers that resolved them.
    ///
    /// ```rust
    /// use tandem_host::factors::outbound_http::AllowedHosts;
    ///
    /// let allowed = AllowedHosts::parse(&["https://*.example.org", "http://127.0.0.1:*"]).unwrap();
    /// let ok = |uri: &str| allowed.allows(&uri.parse().unwrap());
    /// assert!(ok("https://hooks.example.org/deliver?x=1")); // path and query are not checked
    /// assert!(!ok("https://example.org/")); // `*.` means subdomains only
    /// assert!(!ok("https://hooks.example.org:8443/")); // no port: https means 443
    /// assert!(ok("http://127.0.0.1:9000/"));
    /// assert!(AllowedHosts::parse(&["example.com"]).is_err()); // no scheme
    /// assert!(AllowedHosts::parse(&["insecure:allow-all"]).is_err()); // as in Spin
    /// assert!(AllowedHosts::default().is_empty()); // nothing listed: offline
    /// ```
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self> {
        let hosts = entries
            .iter()
            .map(|e| AllowedHost::parse(e.as_ref()))
            .collect::<Result<_>>()?;
        Ok(Self { hosts })
    }

    /// Resolves a component's entries over the resolved application variables. An error names
    /// the manifest line of the entry.
    pub fn resolve(entries: &[HostEntry], app: &BTreeMap<String, Value>) -> Result<Self> {
        let mut hosts = Vec::new();
        for entry in entries {
            let resolved = entry
                .template
                .render(|v| app.get(v).map(|value| value.expose().to_string()))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}: `allowed_outbound_hosts` {:?}: {e}",
                        entry.at,
                        entry.text
                    )
                })?;
            let secret = entry
                .template
                .references()
                .any(|r| app.get(r).is_some_and(Value::is_secret));
            match parse_resolved(&resolved) {
                Ok(Some(host)) => hosts.push(host),
                Ok(None) => {}
                // The parse error would quote the value.
                Err(_) if secret => bail!(
                    "{}: `allowed_outbound_hosts` {:?} resolves to an invalid entry (not shown: \
                     secret)",
                    entry.at,
                    entry.text
                ),
                Err(e) => bail!(
                    "{}: `allowed_outbound_hosts` {:?} resolves to {resolved:?}: {e:#}",
                    entry.at,
                    entry.text
                ),
            }
        }
        Ok(Self { hosts })
    }

    /// No entry: the component may not reach the network.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Whether a request to `uri` is allowed (scheme, host and port; the path is not checked).
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        let Ok(host) = Host::parse(host) else {
            return false;
        };
        let port = uri.port_u16();
        self.hosts.iter().any(|h| h.allows(scheme, &host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entries: &[&str], url: &str) -> bool {
        AllowedHosts::parse(entries)
            .unwrap_or_else(|e| panic!("{entries:?}: {e:#}"))
            .allows(&url.parse().unwrap())
    }

    #[test]
    fn exact_host_with_default_port_by_scheme() {
        let hosts = ["https://hooks.example.com"];
        assert!(allows(&hosts, "https://hooks.example.com/x?y=1"));
        assert!(allows(&hosts, "https://hooks.example.com:443/"));
        assert!(allows(&hosts, "https://HOOKS.example.com/"));
        assert!(!allows(&hosts, "http://hooks.example.com/"));
        assert!(!allows(&hosts, "https://hooks.example.com:8443/"));
        assert!(!allows(&hosts, "https://example.com/"));
        assert!(!allows(&hosts, "https://a.hooks.example.com/"));
        assert!(allows(&["http://127.0.0.1"], "http://127.0.0.1/"));
        assert!(!allows(&["http://127.0.0.1"], "http://127.0.0.1:9/"));
        assert!(allows(&["http://[::1]"], "http://[::1]:80/a"));
        assert!(allows(&["https://my.api.com/"], "https://my.api.com"));
    }

    #[test]
    fn wildcard_subdomain_port_and_scheme() {
        let sub = ["http://*.example.com", "http://*.example2.com:8383"];
        assert!(allows(&sub, "http://a.example.com/foo"));
        assert!(allows(&sub, "http://a.b.example.com/foo"));
        assert!(allows(&sub, "http://a.b.example2.com:8383/"));
        assert!(!allows(&sub, "http://a.b.example2.com/"));
        assert!(!allows(&sub, "http://example.com/"));
        assert!(!allows(&sub, "http://myexample.com/"));

        let any_port = ["http://localhost:*"];
        assert!(allows(&any_port, "http://localhost:9/"));
        assert!(allows(&any_port, "http://localhost/"));
        assert!(!allows(&any_port, "https://localhost/"));

        let any_scheme = ["*://example.com:443"];
        assert!(allows(&any_scheme, "https://example.com/"));
        assert!(allows(&any_scheme, "http://example.com:443/"));
        assert!(!allows(&any_scheme, "http://example.com/"));

        assert!(allows(&["*://*:*"], "http://10.1.2.3:9/"));
        assert!(allows(&["https://*"], "https://anything.test/"));
        assert!(!allows(&["https://*"], "https://anything.test:8443/"));
    }

    #[test]
    fn port_ranges_exclude_their_end_and_cidr_matches_ip_hosts() {
        let range = ["http://localhost:8000..8002"];
        assert!(allows(&range, "http://localhost:8000/"));
        assert!(allows(&range, "http://localhost:8001/"));
        assert!(!allows(&range, "http://localhost:8002/"));

        let cidr = ["http://10.0.0.0/8:*", "http://2001:db8::/32"];
        assert!(allows(&cidr, "http://10.200.3.4:1234/"));
        assert!(!allows(&cidr, "http://11.0.0.1/"));
        assert!(allows(&cidr, "http://[2001:db8:abcd::1]/x"));
        assert!(!allows(&cidr, "http://[2001:db9::1]/"));
        // A CIDR range matches IP literals only, never names.
        assert!(!allows(&["http://0.0.0.0/0"], "http://example.com/"));
        assert!(allows(
            &["*://127.0.0.1/24:63551"],
            "http://127.0.0.9:63551/"
        ));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "example.com",
            "example.com:8080",
            "*",
            "",
            "insecure:allow-all",
            "*://example.com",
            "ftp://example.com",
            "http://example.com:notaport",
            "http://example.com:99999",
            "http://example.com:8080..70000",
            "http://example.com:8080/p",
            "http://example.com/p",
            "http://*.example.com/p",
            "http://ex*ample.com",
            "http://*.*.example.com",
            "http://*.",
            "http://*.127.0.0.1",
            "http://exa[mple.com",
            "http://example.com:80:90",
            "htt1p://example.com",
            "{http,https}://example.com",
            "http://{a,b}.com",
            "http://example.com:{80,443}",
            "http://self",
            "http://self.alt",
            "http://*.spin.internal",
            "http://tickets.spin.internal",
            "https://a.example.com,b.example.com",
        ] {
            assert!(
                AllowedHost::parse(bad).is_err(),
                "expected {bad:?} to be refused"
            );
        }
        let err = format!(
            "{:#}",
            AllowedHost::parse("http://example.com:99999").unwrap_err()
        );
        assert!(err.contains("invalid allowed host port \"99999\""), "{err}");
        let err = format!(
            "{:#}",
            AllowedHost::parse("insecure:allow-all").unwrap_err()
        );
        assert!(err.contains("*://*:*"), "{err}");
    }

    fn vars(list: &[(&str, Option<&str>, bool)]) -> BTreeMap<String, AppVariable> {
        list.iter()
            .map(|(name, default, secret)| {
                (
                    name.to_string(),
                    AppVariable {
                        default: default.map(str::to_string),
                        required: default.is_none(),
                        secret: *secret,
                    },
                )
            })
            .collect()
    }

    fn entry(text: &str, app: &BTreeMap<String, AppVariable>) -> HostEntry {
        HostEntry {
            text: text.to_string(),
            template: check_entry(text, app).unwrap(),
            at: "/app/spin.toml:7".to_string(),
        }
    }

    #[test]
    fn templates_resolve_from_application_variables() {
        let app = vars(&[
            ("hook_host", Some("hooks.example.com"), false),
            ("hook_port", None, false),
            ("optional", Some(""), false),
        ]);
        let entries = [
            entry("https://{{ hook_host }}:{{ hook_port }}", &app),
            entry("{{ optional }}", &app),
            entry("https://{{ optional }}", &app),
        ];
        let resolved: BTreeMap<String, Value> =
            crate::factors::variables::resolve_app_variables(&app, &|k| {
                (k == "SPIN_VARIABLE_HOOK_PORT").then(|| "8443".to_string())
            })
            .unwrap();
        let hosts = AllowedHosts::resolve(&entries, &resolved).unwrap();
        // The two empty ones are skipped.
        assert_eq!(hosts.hosts.len(), 1);
        assert!(hosts.allows(&"https://hooks.example.com:8443/x".parse().unwrap()));
        assert!(!hosts.allows(&"https://hooks.example.com/x".parse().unwrap()));

        // An environment value that makes the entry invalid fails with the entry's line.
        let resolved = crate::factors::variables::resolve_app_variables(&app, &|k| match k {
            "SPIN_VARIABLE_HOOK_PORT" => Some("443".to_string()),
            "SPIN_VARIABLE_HOOK_HOST" => Some("a.example.com,b.example.com".to_string()),
            _ => None,
        })
        .unwrap();
        let err = format!(
            "{:#}",
            AllowedHosts::resolve(&entries, &resolved).unwrap_err()
        );
        assert!(err.starts_with("/app/spin.toml:7: "), "{err}");
        assert!(err.contains("one entry allows one host"), "{err}");
    }

    #[test]
    fn entries_are_checked_at_load() {
        let app = vars(&[
            ("good", Some("example.com"), false),
            ("bad", Some("not a host"), false),
            ("hidden", Some("not a host"), true),
            ("unset", None, false),
        ]);
        assert!(check_entry("https://{{ good }}", &app).is_ok());
        // No default: checked once the value is known.
        assert!(check_entry("https://{{ unset }}", &app).is_ok());
        let err = format!("{:#}", check_entry("https://{{ bad }}", &app).unwrap_err());
        assert!(err.contains("\"https://not a host\""), "{err}");
        let err = format!(
            "{:#}",
            check_entry("https://{{ hidden }}", &app).unwrap_err()
        );
        assert!(!err.contains("not a host\""), "{err}");
        let err = format!("{:#}", check_entry("https://{{ nope }}", &app).unwrap_err());
        assert!(err.contains("`nope`"), "{err}");
        assert!(check_entry("https://{{ good", &app).is_err());
        assert!(check_entry("example.com", &app).is_err());
    }
}
