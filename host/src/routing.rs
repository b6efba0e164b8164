//! HTTP route matching with Spin's rules: exact routes, `/prefix/...` wildcards that match
//! `/prefix` and everything below it, and the most specific route wins.

use std::fmt;

/// A route as written in `[[trigger.http]] route = "..."`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutePattern {
    /// Matches exactly this path (a trailing `/` on the request is tolerated).
    Exact(String),
    /// Matches the prefix itself and any path below it; prefix `""` is the root wildcard `/...`.
    Wildcard(String),
}

impl RoutePattern {
    /// Parses a manifest route. Spin's `:name` parameter segments and a `...` anywhere but at
    /// the end are refused rather than matched differently from Spin.
    ///
    /// ```rust
    /// use tandem_host::routing::RoutePattern;
    ///
    /// assert_eq!(RoutePattern::parse("/v1/intent"), Ok(RoutePattern::Exact("/v1/intent".into())));
    /// assert_eq!(RoutePattern::parse("/v1/tickets/..."), Ok(RoutePattern::Wildcard("/v1/tickets".into())));
    /// assert_eq!(RoutePattern::parse("/..."), Ok(RoutePattern::Wildcard(String::new())));
    /// assert!(RoutePattern::parse("v1/intent").is_err()); // not absolute
    /// assert!(RoutePattern::parse("/v1/tickets/:id").is_err()); // parameters: not supported
    /// ```
    pub fn parse(route: &str) -> Result<Self, String> {
        if !route.starts_with('/') {
            return Err(format!("route `{route}` must start with `/`"));
        }
        if route.split('/').any(|seg| seg.starts_with(':')) {
            return Err(format!(
                "route `{route}`: parameter segments (`:name`) are not supported"
            ));
        }
        if let Some(prefix) = route.strip_suffix("/...") {
            if prefix.contains("...") {
                return Err(format!("route `{route}`: `...` may only end a route"));
            }
            return Ok(Self::Wildcard(prefix.trim_end_matches('/').to_string()));
        }
        if route.contains("...") {
            return Err(format!("route `{route}`: `...` may only end a route"));
        }
        let trimmed = route.trim_end_matches('/');
        Ok(Self::Exact(if trimmed.is_empty() {
            "/".to_string()
        } else {
            trimmed.to_string()
        }))
    }

    /// The route without its wildcard, as Spin's `spin-component-route` header shows it.
    pub fn base(&self) -> &str {
        match self {
            Self::Exact(p) | Self::Wildcard(p) => p,
        }
    }

    /// If `path` matches, the part of it below the route (`spin-path-info`).
    fn path_info(&self, path: &str) -> Option<String> {
        match self {
            Self::Exact(p) => {
                let trimmed = path.trim_end_matches('/');
                let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
                (trimmed == p).then(String::new)
            }
            Self::Wildcard(prefix) => {
                let rest = path.strip_prefix(prefix.as_str())?;
                // `/api/...` must not match `/apix`: the prefix has to end at a segment boundary.
                (rest.is_empty() || rest.starts_with('/')).then(|| rest.to_string())
            }
        }
    }

    /// Ordering key: exact routes beat wildcards; among wildcards the longer prefix wins.
    fn specificity(&self) -> (usize, bool) {
        match self {
            Self::Exact(p) => (p.len(), true),
            Self::Wildcard(p) => (p.len(), false),
        }
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(p) => f.write_str(p),
            Self::Wildcard(p) => write!(f, "{p}/..."),
        }
    }
}

/// The outcome of matching a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// Id of the component serving the route.
    pub component: &'a str,
    /// The route that matched.
    pub route: &'a RoutePattern,
    /// The request path below the route (`spin-path-info`), `""` for exact routes.
    pub path_info: String,
}

/// All HTTP routes of the application.
///
/// ```rust
/// use tandem_host::routing::{RoutePattern, Router};
///
/// let router = Router::new([
///     (RoutePattern::parse("/...").unwrap(), "web".to_string()),
///     (RoutePattern::parse("/v1/tickets/...").unwrap(), "ticket".to_string()),
///     (RoutePattern::parse("/v1/tickets/sweep").unwrap(), "sweeper".to_string()),
/// ]);
/// // The most specific route wins: exact before wildcard, longer prefix before shorter.
/// assert_eq!(router.route("/v1/tickets/sweep").unwrap().component, "sweeper");
/// let m = router.route("/v1/tickets/42/events").unwrap();
/// assert_eq!((m.component, m.path_info.as_str()), ("ticket", "/42/events"));
/// // A wildcard prefix ends at a segment boundary: `/v1/ticketsx` is not below `/v1/tickets`.
/// assert_eq!(router.route("/v1/ticketsx").unwrap().component, "web");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<(RoutePattern, String)>,
}

impl Router {
    /// Builds a router from `(route, component id)` pairs.
    pub fn new(routes: impl IntoIterator<Item = (RoutePattern, String)>) -> Self {
        let mut routes: Vec<_> = routes.into_iter().collect();
        // Most specific first, so the first match is the winner.
        routes.sort_by_key(|r| std::cmp::Reverse(r.0.specificity()));
        Self { routes }
    }

    /// The routes, most specific first.
    pub fn routes(&self) -> impl Iterator<Item = (&RoutePattern, &str)> {
        self.routes.iter().map(|(r, c)| (r, c.as_str()))
    }

    /// Finds the component for `path` (the URI path without query).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        self.routes.iter().find_map(|(route, component)| {
            route.path_info(path).map(|path_info| RouteMatch {
                component,
                route,
                path_info,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(
            routes
                .iter()
                .map(|(r, c)| (RoutePattern::parse(r).unwrap(), c.to_string())),
        )
    }

    fn hit(r: &Router, path: &str) -> Option<(String, String)> {
        r.route(path)
            .map(|m| (m.component.to_string(), m.path_info))
    }

    #[test]
    fn exact_routes_match_only_themselves() {
        let r = router(&[("/cart", "cart")]);
        assert_eq!(hit(&r, "/cart"), Some(("cart".into(), "".into())));
        assert_eq!(hit(&r, "/cart/"), Some(("cart".into(), "".into())));
        assert_eq!(hit(&r, "/cart/checkout"), None);
        assert_eq!(hit(&r, "/car"), None);
    }

    #[test]
    fn wildcard_matches_prefix_and_below_only_on_segment_boundaries() {
        let r = router(&[("/api/...", "api")]);
        assert_eq!(hit(&r, "/api"), Some(("api".into(), "".into())));
        assert_eq!(hit(&r, "/api/"), Some(("api".into(), "/".into())));
        assert_eq!(hit(&r, "/api/a/b/c"), Some(("api".into(), "/a/b/c".into())));
        assert_eq!(hit(&r, "/apix"), None);
        assert_eq!(hit(&r, "/"), None);
    }

    #[test]
    fn longest_route_wins_and_exact_beats_wildcard() {
        let r = router(&[
            ("/...", "root"),
            ("/api/...", "api"),
            ("/api/v1/...", "v1"),
            ("/api/v1/health", "health"),
        ]);
        assert_eq!(hit(&r, "/index.html").unwrap().0, "root");
        assert_eq!(hit(&r, "/").unwrap(), ("root".into(), "/".into()));
        assert_eq!(hit(&r, "/api/x").unwrap().0, "api");
        assert_eq!(
            hit(&r, "/api/v1/tickets/7").unwrap(),
            ("v1".into(), "/tickets/7".into())
        );
        assert_eq!(hit(&r, "/api/v1/health").unwrap().0, "health");
        assert_eq!(hit(&r, "/api/v1").unwrap().0, "v1");
    }

    #[test]
    fn parse_rejects_bad_routes() {
        assert!(RoutePattern::parse("api").is_err());
        assert!(RoutePattern::parse("/a/.../b").is_err());
        assert!(RoutePattern::parse("/users/:id").is_err());
        assert_eq!(
            RoutePattern::parse("/...").unwrap(),
            RoutePattern::Wildcard("".into())
        );
        assert_eq!(
            RoutePattern::parse("/").unwrap(),
            RoutePattern::Exact("/".into())
        );
        assert_eq!(RoutePattern::parse("/a/...").unwrap().to_string(), "/a/...");
    }
}
