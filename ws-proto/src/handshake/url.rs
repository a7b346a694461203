//! WebSocket URIs: `ws://` and `wss://` (RFC 6455 §3).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A parsed `ws://` or `wss://` URL: everything a client needs to open the connection and to
/// write the request line and `Host` header of its opening handshake.
///
/// ```
/// use ws_proto::handshake::WsUrl;
///
/// let url = WsUrl::parse("wss://[::1]:9001/chat?room=1").unwrap();
/// assert!(url.is_secure());
/// assert_eq!(url.host(), "::1");
/// assert_eq!(url.port(), 9001);
/// assert_eq!(url.resource(), "/chat?room=1");
/// assert_eq!(url.host_header(), "[::1]:9001");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WsUrl {
    secure: bool,
    /// Lowercased host; an IPv6 literal without its brackets.
    host: String,
    is_ipv6: bool,
    port: u16,
    /// Path and optional `?query`, never empty.
    resource: String,
    /// Byte offset of the `?` in `resource`, if there is a query.
    query_start: Option<usize>,
}

/// Why a string is not a usable WebSocket URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://` prefix.
    MissingScheme,
    /// A scheme other than `ws` or `wss` (RFC 6455 §3 defines only these two).
    UnsupportedScheme,
    /// A `#fragment`: RFC 6455 §3 forbids fragments in WebSocket URIs.
    Fragment,
    /// A `user:password@` part, which a WebSocket URI cannot carry.
    UserInfo,
    /// Nothing between `//` and the port, path or end.
    EmptyHost,
    /// A host with characters a host name cannot contain, or a malformed IP literal.
    InvalidHost,
    /// A port that is not a number from 1 to 65535.
    InvalidPort,
    /// Whitespace or a control character anywhere in the URL.
    InvalidCharacter,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL. The scheme and host are case-insensitive and stored in
    /// lowercase; the port defaults to 80 (`ws`) or 443 (`wss`); an empty path becomes `/`.
    ///
    /// Path and query characters that may not appear in a request line (non-ASCII, `"`, `<`,
    /// `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`) are percent-encoded.
    pub fn parse(input: &str) -> Result<WsUrl, UrlError> {
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::InvalidCharacter);
        }
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::MissingScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST
        // NOT be used on these URIs."
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, is_ipv6, port) = parse_authority(authority)?;
        let port = port.unwrap_or(if secure { 443 } else { 80 });

        let mut resource = encode_resource(resource);
        if !resource.starts_with('/') {
            resource.insert(0, '/');
        }
        let query_start = resource.find('?');
        Ok(WsUrl {
            secure,
            host,
            is_ipv6,
            port,
            resource,
            query_start,
        })
    }

    /// True for `wss://`: the connection runs over TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// `"wss"` or `"ws"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "wss" } else { "ws" }
    }

    /// The host to connect to: a lowercase domain, an IPv4 address, or an IPv6 address without
    /// brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to, with the scheme's default (80 or 443) filled in.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The resource name of RFC 6455 §3: the path followed by `?query` when there is one. This
    /// is the request-target of the handshake's request line.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The path part of [`resource`](Self::resource) (at least `/`).
    pub fn path(&self) -> &str {
        match self.query_start {
            Some(at) => &self.resource[..at],
            None => &self.resource,
        }
    }

    /// The query without its `?`, if the URL has one.
    pub fn query(&self) -> Option<&str> {
        self.query_start.map(|at| &self.resource[at + 1..])
    }

    /// The value of the handshake's `Host` header (RFC 6455 §4.1): the host, in brackets if it
    /// is an IPv6 literal, followed by `:port` only when the port is not the scheme's default.
    pub fn host_header(&self) -> String {
        let mut out = String::with_capacity(self.host.len() + 8);
        if self.is_ipv6 {
            out.push('[');
            out.push_str(&self.host);
            out.push(']');
        } else {
            out.push_str(&self.host);
        }
        let default = if self.secure { 443 } else { 80 };
        if self.port != default {
            out.push(':');
            out.push_str(&self.port.to_string());
        }
        out
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.host_header(),
            self.resource
        )
    }
}

impl FromStr for WsUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WsUrl::parse(s)
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::MissingScheme => "missing ws:// or wss:// scheme",
            UrlError::UnsupportedScheme => "scheme is not ws or wss",
            UrlError::Fragment => "WebSocket URLs cannot have a fragment",
            UrlError::UserInfo => "WebSocket URLs cannot carry user information",
            UrlError::EmptyHost => "empty host",
            UrlError::InvalidHost => "invalid host",
            UrlError::InvalidPort => "invalid port",
            UrlError::InvalidCharacter => "whitespace or control character in URL",
        })
    }
}

impl std::error::Error for UrlError {}

// ----------------------------------------------------------------------------------- helpers

/// Splits `host[:port]` or `[v6]:port` into the host (lowercase, no brackets), whether it is
/// an IPv6 literal, and the explicit port if any.
fn parse_authority(authority: &str) -> Result<(String, bool, Option<u16>), UrlError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed.split_once(']').ok_or(UrlError::InvalidHost)?;
        if literal.is_empty() {
            return Err(UrlError::EmptyHost);
        }
        Ipv6Addr::from_str(literal).map_err(|_| UrlError::InvalidHost)?;
        let port = match after {
            "" => None,
            _ => parse_port(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?)?,
        };
        return Ok((literal.to_ascii_lowercase(), true, port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, parse_port(port)?),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if !host.bytes().all(is_reg_name_byte) {
        return Err(UrlError::InvalidHost);
    }
    // Something that looks like a dotted IPv4 address must be one.
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') && Ipv4Addr::from_str(host).is_err() {
        return Err(UrlError::InvalidHost);
    }
    Ok((host.to_ascii_lowercase(), false, port))
}

/// An explicit port: digits only, 1 to 65535. An empty port means the default (RFC 3986 §3.2.3).
fn parse_port(port: &str) -> Result<Option<u16>, UrlError> {
    if port.is_empty() {
        return Ok(None);
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(port) => Ok(Some(port)),
    }
}

/// Characters of an RFC 3986 reg-name: unreserved, sub-delims and `%` of pct-encoded.
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b)
}

/// Percent-encodes the bytes that cannot appear in an HTTP request-target.
fn encode_resource(resource: &str) -> String {
    let mut out = String::with_capacity(resource.len());
    for &b in resource.as_bytes() {
        if b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> WsUrl {
        match WsUrl::parse(s) {
            Ok(url) => url,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn ipv6_with_port_path_and_query() {
        let u = url("ws://[::1]:9001/x?y=1");
        assert!(!u.is_secure());
        assert_eq!(u.host(), "::1");
        assert_eq!(u.port(), 9001);
        assert_eq!(u.resource(), "/x?y=1");
        assert_eq!(u.path(), "/x");
        assert_eq!(u.query(), Some("y=1"));
        assert_eq!(u.host_header(), "[::1]:9001");
        assert_eq!(u.to_string(), "ws://[::1]:9001/x?y=1");
    }

    #[test]
    fn ipv6_default_port_keeps_brackets_in_host_header() {
        let u = url("wss://[2001:DB8::1]");
        assert_eq!(u.host(), "2001:db8::1");
        assert_eq!(u.port(), 443);
        assert_eq!(u.host_header(), "[2001:db8::1]");
        assert_eq!(u.resource(), "/");
    }

    #[test]
    fn default_ports_and_empty_path() {
        let u = url("ws://example.com");
        assert_eq!(
            (u.port(), u.resource(), u.path(), u.query()),
            (80, "/", "/", None)
        );
        assert_eq!(u.host_header(), "example.com");
        let u = url("wss://example.com?a=b");
        assert_eq!(
            (u.port(), u.resource(), u.query()),
            (443, "/?a=b", Some("a=b"))
        );
        assert!(u.is_secure());
        // An explicit default port is not repeated in the Host header.
        assert_eq!(url("ws://example.com:80/").host_header(), "example.com");
        assert_eq!(url("wss://example.com:443/").host_header(), "example.com");
        assert_eq!(url("wss://example.com:80/").host_header(), "example.com:80");
        assert_eq!(url("ws://example.com:/").port(), 80);
    }

    #[test]
    fn uppercase_scheme_and_host() {
        let u = url("WSS://Example.COM:8443/Chat");
        assert!(u.is_secure());
        assert_eq!(u.host(), "example.com");
        assert_eq!(u.resource(), "/Chat");
        assert_eq!(u.to_string(), "wss://example.com:8443/Chat");
        assert!(!url("Ws://h/").is_secure());
    }

    #[test]
    fn ipv4_host() {
        let u = url("ws://127.0.0.1:9001");
        assert_eq!((u.host(), u.port()), ("127.0.0.1", 9001));
        assert_eq!(u.host_header(), "127.0.0.1:9001");
    }

    #[test]
    fn unsafe_resource_bytes_are_percent_encoded() {
        assert_eq!(
            url("ws://h/caf\u{e9}?q=\"x\"").resource(),
            "/caf%C3%A9?q=%22x%22"
        );
        assert_eq!("ws://h/a".parse::<WsUrl>(), Ok(url("ws://h/a")));
    }

    #[test]
    fn errors() {
        let cases = [
            ("", UrlError::MissingScheme),
            ("example.com/x", UrlError::MissingScheme),
            ("http://example.com/", UrlError::UnsupportedScheme),
            ("wsx://example.com/", UrlError::UnsupportedScheme),
            ("ws://example.com/#frag", UrlError::Fragment),
            ("ws://example.com#", UrlError::Fragment),
            ("ws://user:pw@example.com/", UrlError::UserInfo),
            ("ws:///path", UrlError::EmptyHost),
            ("ws://:80/", UrlError::EmptyHost),
            ("ws://[]/", UrlError::EmptyHost),
            ("ws://[::1/", UrlError::InvalidHost),
            ("ws://[zz::1]/", UrlError::InvalidHost),
            ("ws://[::1]x/", UrlError::InvalidHost),
            ("ws://exa<mple.com/", UrlError::InvalidHost),
            ("ws://1.2.3.999/", UrlError::InvalidHost),
            ("ws://h:1:2/", UrlError::InvalidPort),
            ("ws://h:65536/", UrlError::InvalidPort),
            ("ws://h:0/", UrlError::InvalidPort),
            ("ws://h:+80/", UrlError::InvalidPort),
            ("ws://h:http/", UrlError::InvalidPort),
            ("ws://h/a b", UrlError::InvalidCharacter),
            (" ws://h/", UrlError::InvalidCharacter),
            ("ws://h/\r\nX: y", UrlError::InvalidCharacter),
            ("ws://h/\u{7f}", UrlError::InvalidCharacter),
        ];
        for (input, want) in cases {
            assert_eq!(WsUrl::parse(input), Err(want), "{input:?}");
            assert!(!want.to_string().is_empty());
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_display_round_trips(
            s in concat!(
                "(ws|wss|WS|http|)(://)?",
                "(\\[[0-9a-fA-F:.]{0,12}\\]|[a-zA-Z0-9.@_-]{0,12})",
                "(:[0-9]{0,6})?(/[a-z0-9%?&=#/ \u{e9}]{0,12})?",
            ),
        ) {
            if let Ok(url) = WsUrl::parse(&s) {
                proptest::prop_assert_eq!(WsUrl::parse(&url.to_string()), Ok(url.clone()));
                proptest::prop_assert!(url.resource().starts_with('/'));
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
            let _ = WsUrl::parse(&s);
        }
    }
}
