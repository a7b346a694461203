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
mod tests;
