//! What one component may reach: its resolved allow-list, and the line the host logs about a
//! request it refuses.

use super::allowed_hosts::AllowedHosts;

/// What one component may reach, shared by all its instances.
#[derive(Debug, Clone)]
pub struct OutboundPolicy {
    component: String,
    hosts: AllowedHosts,
}

impl OutboundPolicy {
    /// The policy of component `component`.
    pub fn new(component: impl Into<String>, hosts: AllowedHosts) -> Self {
        Self {
            component: component.into(),
            hosts,
        }
    }

    /// `Ok` when `uri` may be requested, else the line the host logs about the refusal.
    pub fn check(&self, uri: &http::Uri) -> Result<(), String> {
        if self.hosts.allows(uri) {
            return Ok(());
        }
        let why = if self.hosts.is_empty() {
            "allowed_outbound_hosts is empty"
        } else {
            "not in allowed_outbound_hosts"
        };
        Err(format!(
            "tandem: component `{}` may not reach {} ({why})",
            self.component,
            display_url(uri)
        ))
    }
}

/// `scheme://host[:port]/path` of a request: no user info, no query (either may hold a secret).
fn display_url(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("");
    let host = uri.host().unwrap_or("");
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    let path = match uri.path() {
        "" => "/",
        p => p,
    };
    format!("{scheme}://{host}{port}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_requests_name_the_component_and_url() {
        let policy = OutboundPolicy::new("intent", AllowedHosts::default());
        assert_eq!(
            policy
                .check(&"http://127.0.0.1:9/".parse().unwrap())
                .unwrap_err(),
            "tandem: component `intent` may not reach http://127.0.0.1:9/ \
             (allowed_outbound_hosts is empty)"
        );
        let policy = OutboundPolicy::new(
            "webhooks",
            AllowedHosts::parse(&["https://hooks.example.com"]).unwrap(),
        );
        assert!(
            policy
                .check(&"https://hooks.example.com/a".parse().unwrap())
                .is_ok()
        );
        assert_eq!(
            policy
                .check(
                    &"https://user:pw@evil.test/path?token=s3cret"
                        .parse()
                        .unwrap()
                )
                .unwrap_err(),
            "tandem: component `webhooks` may not reach https://evil.test/path \
             (not in allowed_outbound_hosts)"
        );
    }
}
