//! Which web pages may open a WebSocket to a server: the `Origin` check against cross-site
//! WebSocket hijacking.
//!
//! A browser lets any page open a WebSocket to any server, sending the user's cookies along, and
//! says which page asked in the `Origin` header (RFC 6455 §4.2.2 and §10.2: the server decides
//! from it). Without a check, a page on another site can talk to the server as the signed-in
//! user. Clients that are not browsers usually send no `Origin` at all; they are not what this
//! protects against, so a request without one is let through.

/// The pages allowed to open WebSockets to a server (see [`ServerOptions::allow_origin`] and
/// [`ServerOptions::allow_same_origin`]). A request whose `Origin` matches none of the rules is
/// refused with 403 before the upgrade, and before `on_connection` runs. With no rule at all
/// (the default) every origin is accepted, as in 4D.
///
/// [`ServerOptions::allow_origin`]: crate::ServerOptions::allow_origin
/// [`ServerOptions::allow_same_origin`]: crate::ServerOptions::allow_same_origin
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OriginPolicy {
    /// Origins accepted as they are, e.g. `https://example.com` or `http://localhost:8080`
    /// (scheme, host and port; compared without regard to case, default ports implied).
    pub exact: Vec<String>,
    /// Accept the page the server itself serves: an `Origin` whose host and port are the
    /// request's `Host`.
    pub same_as_host: bool,
}

impl OriginPolicy {
    /// Whether any rule is set: with none, every origin is accepted.
    pub fn is_restricted(&self) -> bool {
        self.same_as_host || !self.exact.is_empty()
    }

    /// Whether a request with these `Origin` and `Host` headers may upgrade.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        if !self.is_restricted() {
            return true;
        }
        // Not a browser: nothing to hijack through.
        let Some(origin) = origin else {
            return true;
        };
        // A page with an opaque origin (a sandboxed frame, a file) sends "null": it is never
        // the server's own page nor a listed one.
        let Some(origin) = SerializedOrigin::parse(origin) else {
            return false;
        };
        if self
            .exact
            .iter()
            .filter_map(|allowed| SerializedOrigin::parse(allowed))
            .any(|allowed| allowed == origin)
        {
            return true;
        }
        self.same_as_host && host.is_some_and(|host| origin.same_authority(host))
    }
}

/// `scheme://host[:port]`, lowercased, with the scheme's default port filled in (RFC 6454 §6.2).
#[derive(Debug, PartialEq, Eq)]
struct SerializedOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl SerializedOrigin {
    fn parse(origin: &str) -> Option<SerializedOrigin> {
        let (scheme, rest) = origin.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => return None,
        };
        // An origin has no path; tolerate a trailing slash some configurations carry.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return None;
        }
        let (host, port) = split_authority(authority)?;
        Some(SerializedOrigin {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }

    /// Whether `host_header` (`host[:port]`) names the same host and port; a `Host` without a
    /// port means the default port of this origin's scheme.
    fn same_authority(&self, host_header: &str) -> bool {
        let default_port = if matches!(self.scheme.as_str(), "https" | "wss") {
            443
        } else {
            80
        };
        split_authority(host_header.trim()).is_some_and(|(host, port)| {
            host == self.host && port.unwrap_or(default_port) == self.port
        })
    }
}

/// `host[:port]` or `[v6]:port`, host lowercased.
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{v6}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse::<u16>().ok()?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(list: &[&str]) -> OriginPolicy {
        OriginPolicy {
            exact: list.iter().map(|s| s.to_string()).collect(),
            same_as_host: false,
        }
    }

    fn same_host() -> OriginPolicy {
        OriginPolicy {
            exact: Vec::new(),
            same_as_host: true,
        }
    }

    #[test]
    fn no_rule_accepts_every_origin() {
        let any = OriginPolicy::default();
        assert!(any.allows(Some("https://evil.example"), Some("good.example")));
        assert!(any.allows(None, None));
    }

    #[test]
    fn exact_origins_match_scheme_host_and_port_without_regard_to_case() {
        let policy = exact(&["https://Good.Example", "http://localhost:8080"]);
        let cases = [
            ("https://good.example", true),
            ("https://good.example:443", true),
            ("HTTPS://GOOD.EXAMPLE/", true),
            ("http://good.example", false),
            ("https://good.example:8443", false),
            ("https://evil.example", false),
            ("https://good.example.evil.example", false),
            ("http://localhost:8080", true),
            ("http://localhost", false),
            ("null", false),
            ("", false),
            ("https://user@good.example", false),
        ];
        for (origin, allowed) in cases {
            assert_eq!(policy.allows(Some(origin), Some("x")), allowed, "{origin}");
        }
    }

    #[test]
    fn same_as_host_compares_the_origin_with_the_host_header() {
        let policy = same_host();
        let cases = [
            ("http://127.0.0.1:8080", "127.0.0.1:8080", true),
            ("http://127.0.0.1:8080", "127.0.0.1:9090", false),
            ("http://chat.example", "chat.example", true),
            ("http://chat.example", "chat.example:80", true),
            ("https://chat.example", "chat.example", true),
            ("https://chat.example", "chat.example:443", true),
            ("http://evil.example", "chat.example", false),
            ("http://[::1]:8080", "[::1]:8080", true),
            ("http://[::1]:8080", "[::1]:8081", false),
            ("http://CHAT.example", "chat.EXAMPLE", true),
        ];
        for (origin, host, allowed) in cases {
            assert_eq!(
                policy.allows(Some(origin), Some(host)),
                allowed,
                "{origin} / {host}"
            );
        }
        assert!(!policy.allows(Some("http://chat.example"), None));
    }

    #[test]
    fn requests_without_an_origin_are_not_from_a_browser_and_pass() {
        assert!(same_host().allows(None, Some("chat.example")));
        assert!(exact(&["https://a.example"]).allows(None, None));
    }
}
