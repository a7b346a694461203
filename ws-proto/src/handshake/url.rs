//! WebSocket URIs: `ws://` and `wss://` (RFC 6455 §3).
//!
//! A client needs three things from its URL: where to connect (host and port, also the TLS
//! server name), the `Host` header, and the request-target of the handshake's request line.
//! This module parses exactly that subset of RFC 3986 by hand rather than with the `url` crate:
//! the grammar of RFC 6455 §3 is small, and the `url` crate would bring IDNA and Unicode tables
//! into a core whose other dependencies are a handful of small crates. It would not remove the
//! checks here either: the WHATWG URL parser it implements is lenient where a handshake must be
//! strict (it takes `\` for `/`, fragments and port 0), and what may reach the `Host` header,
//! userinfo and IPv6 zones would still be this module's to decide. What is accepted, and why,
//! is listed on [`WsUrl`], where its users read it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

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
///
/// What is accepted, and why:
///
/// * Schemes `ws` and `wss`, in any case. `http` and `https` are refused, as Python's
///   `websockets` refuses them: RFC 6455 §3 defines only `ws` and `wss`. (The WHATWG
///   WebSocket constructor maps them to `ws` and `wss`; a caller who wants that rewrites the
///   scheme.)
/// * Hosts are lowercased. A domain is ASCII letters, digits, `-`, `_` and dots, with no
///   empty label; a trailing dot (an absolute name) is kept, as browsers keep it. A non-ASCII
///   (IDNA) host is refused with [`UrlError::NonAsciiHost`]: converting it needs the UTS #46
///   mapping tables, so the caller writes the punycode (`xn--`) form. A percent-encoded host
///   is refused too: no `%` may reach the `Host` header.
/// * A host whose last label is a number (`127.1`, `0x7f.1`, `2130706433`) must be a
///   dotted-decimal IPv4 address, as in WHATWG; otherwise the system resolver would read it
///   as an address of its own (`inet_aton` forms) while the `Host` header named something
///   else.
/// * IPv6 literals go in brackets and are stored in RFC 5952 form. A zone in the syntax of
///   RFC 6874 (`[fe80::1%25eth0]`) is accepted for link-local addresses, as curl accepts it
///   (browsers never did, and RFC 9844 has since obsoleted RFC 6874): [`host`](Self::host)
///   carries it as `fe80::1%eth0`, the form the system resolver takes, and the `Host` header
///   leaves it out (RFC 6874 §4: the zone means nothing to the server, and a client removes
///   it).
/// * The port defaults to 80 or 443; an explicit default port, or an empty one (`ws://h:/`),
///   is the same URL as none. Port 0 cannot be connected to and is refused.
/// * Userinfo (`ws://user:pass@h/`) is not in the RFC 6455 grammar, but browsers, Node's `ws`
///   and Python's `websockets` send it as HTTP Basic credentials. It is kept percent-decoded
///   for [`basic_authorization`](Self::basic_authorization) and never appears in the `Host`
///   header, the request-target, [`Display`](fmt::Display) or [`Debug`](fmt::Debug) (which
///   shows the user name only).
/// * The path and query are kept as sent, percent-encodings included. Bytes that may not
///   appear in a request-target (non-ASCII, `"`, `<`, `>`, `^`, `` ` ``, `{`, `|`, `}`, and a
///   `%` that does not start an encoding) are percent-encoded, as browsers do for non-ASCII.
///   Dot segments are not removed: the server sees the path as written.
/// * Refused outright: fragments (RFC 6455 §3), whitespace and control characters anywhere
///   (WHATWG would strip or drop some of them; a URL that needs that was built wrong), and
///   backslashes anywhere (WHATWG reads `\` as `/`: `ws://a.example\@b.example/` names
///   `a.example` to a browser and `b.example` to an RFC 3986 reader).
/// * No length limit: a name longer than DNS allows (labels over 63 bytes, RFC 1035 §2.3.4)
///   fails in the resolver, which says so, and a request-target too long for the server is
///   the server's to refuse (414, RFC 9110 §15.5.15). Parsing is linear in the input.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WsUrl {
    secure: bool,
    /// Lowercased host; an IPv6 literal without its brackets, with `%zone` if it has one.
    host: String,
    is_ipv6: bool,
    port: u16,
    /// Path and optional `?query`, never empty.
    resource: String,
    /// Byte offset of the `?` in `resource`, if there is a query.
    query_start: Option<usize>,
    credentials: Option<Credentials>,
}

/// The percent-decoded user name and password of a URL's userinfo.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Credentials {
    username: String,
    password: String,
}

/// Why a string is not a usable WebSocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://` prefix.
    MissingScheme,
    /// A scheme other than `ws` or `wss` (RFC 6455 §3 defines only these two).
    UnsupportedScheme,
    /// A `#fragment`: RFC 6455 §3 forbids fragments in WebSocket URIs.
    Fragment,
    /// A `user:password@` part that cannot be sent as HTTP Basic credentials: a character
    /// RFC 3986 §3.2.1 does not allow there, a bad percent-encoding, a decoded value that is
    /// not UTF-8 or holds a control character, or a `:` in the user name (RFC 7617 §2).
    UserInfo,
    /// Nothing between `//` and the port, path or end.
    EmptyHost,
    /// A host with characters a host name cannot contain, an empty label, a number that is not
    /// a dotted-decimal IPv4 address, a malformed IPv6 literal or zone, or an IPv6 address
    /// without its brackets.
    InvalidHost,
    /// A host with non-ASCII characters (an internationalized domain name, given here): it
    /// must be written in its ASCII (punycode, `xn--`) form.
    NonAsciiHost(String),
    /// A port that is not a number from 1 to 65535.
    InvalidPort,
    /// Whitespace, a control character or a backslash anywhere in the URL.
    InvalidCharacter,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL. The scheme and host are case-insensitive and stored in
    /// lowercase; the port defaults to 80 (`ws`) or 443 (`wss`); an empty path becomes `/`.
    ///
    /// Path and query characters that may not appear in a request line (non-ASCII, `"`, `<`,
    /// `>`, `^`, `` ` ``, `{`, `|`, `}`, and a `%` not followed by two hex digits) are
    /// percent-encoded; the rest is kept as written. The [type's documentation](WsUrl) lists
    /// what is accepted and why.
    pub fn parse(input: &str) -> Result<WsUrl, UrlError> {
        if input
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
        {
            return Err(UrlError::InvalidCharacter);
        }
        let (scheme, rest) = input
            .split_once("://")
            .filter(|(scheme, _)| is_scheme(scheme))
            .ok_or(UrlError::MissingScheme)?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return Err(UrlError::UnsupportedScheme),
        };
        // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST
        // NOT be used on these URIs."
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        // The host follows the last `@`: RFC 3986 allows no `@` inside userinfo, and
        // `parse_userinfo` refuses one, so no reading of the authority puts the host elsewhere.
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (parse_userinfo(userinfo)?, host_port),
            None => (None, authority),
        };
        let (host, is_ipv6, port) = parse_authority(host_port)?;
        let port = port.unwrap_or(default_port(secure));

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
            credentials,
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

    /// The host to connect to: a lowercase domain (with its trailing dot, if it was given
    /// one), an IPv4 address, or an IPv6 address without brackets in RFC 5952 form. A zoned
    /// IPv6 address ends in `%zone` (`fe80::1%eth0`), as the system resolver takes it.
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
    /// It never carries the userinfo, nor an IPv6 zone (RFC 6874 §4).
    pub fn host_header(&self) -> String {
        let mut out = String::with_capacity(self.host.len() + 8);
        if self.is_ipv6 {
            let address = self.host.split('%').next().unwrap_or_default();
            out.push('[');
            out.push_str(address);
            out.push(']');
        } else {
            out.push_str(&self.host);
        }
        self.push_port(&mut out);
        out
    }

    /// The user name and password of the URL's userinfo, percent-decoded: `("user", "pass")`
    /// for `ws://user:pass@host/`, `("user", "")` for `ws://user@host/`. `None` when the URL
    /// has no userinfo or only an empty one (`ws://@host/`).
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|c| (c.username.as_str(), c.password.as_str()))
    }

    /// The `Authorization` header value that sends [`credentials`](Self::credentials) with
    /// the Basic scheme (RFC 7617 §2, UTF-8): `Basic ` and the base64 of `user:password`, as
    /// browsers, Node's `ws` and Python's `websockets` send URL credentials.
    ///
    /// ```
    /// use ws_proto::handshake::WsUrl;
    ///
    /// let url = WsUrl::parse("wss://Aladdin:open%20sesame@example.com/").unwrap();
    /// let authorization = url.basic_authorization();
    /// assert_eq!(authorization.as_deref(), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    /// assert_eq!(url.host_header(), "example.com");
    /// assert_eq!(url.to_string(), "wss://example.com/");
    /// ```
    pub fn basic_authorization(&self) -> Option<String> {
        let c = self.credentials.as_ref()?;
        let pair = format!("{}:{}", c.username, c.password);
        Some(format!("Basic {}", STANDARD.encode(pair)))
    }

    /// Appends `:port` when the port is not the scheme's default.
    fn push_port(&self, out: &mut String) {
        if self.port != default_port(self.secure) {
            out.push(':');
            out.push_str(&self.port.to_string());
        }
    }
}

/// Writes the URL without its userinfo, so that it can be logged: scheme, host (an IPv6 zone
/// encoded as `%25zone`, RFC 6874), a non-default port and the resource. Parsing it gives the
/// same URL, less the credentials.
impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut authority = String::with_capacity(self.host.len() + 10);
        if self.is_ipv6 {
            authority.push('[');
            authority.push_str(&self.host.replacen('%', "%25", 1));
            authority.push(']');
        } else {
            authority.push_str(&self.host);
        }
        self.push_port(&mut authority);
        write!(f, "{}://{}{}", self.scheme(), authority, self.resource)
    }
}

/// Shows the URL as [`Display`](fmt::Display) does, and the user name of its credentials but
/// never the password.
impl fmt::Debug for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("WsUrl");
        debug.field("url", &format_args!("{self}"));
        if let Some(c) = &self.credentials {
            debug.field("username", &c.username);
        }
        debug.finish()
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
            UrlError::UserInfo => "invalid user name or password before the host",
            UrlError::EmptyHost => "empty host",
            UrlError::InvalidHost => "invalid host",
            UrlError::NonAsciiHost(host) => {
                return write!(
                    f,
                    "host {host:?} is not ASCII: write an internationalized domain name in its \
                     punycode form (xn--...)"
                );
            }
            UrlError::InvalidPort => "invalid port",
            UrlError::InvalidCharacter => "whitespace, control character or backslash in URL",
        })
    }
}

impl std::error::Error for UrlError {}

// ----------------------------------------------------------------------------------- helpers

fn default_port(secure: bool) -> u16 {
    if secure { 443 } else { 80 }
}

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`. Anything else before
/// `://` means the URL has no scheme (`example.com/?next=ws://...`).
fn is_scheme(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// Reads `user[:password]` (RFC 3986 §3.2.1) into credentials for HTTP Basic authentication.
/// Non-ASCII is taken as written: it is UTF-8, the charset RFC 7617 §2.1 names. An empty
/// userinfo carries no credentials.
fn parse_userinfo(userinfo: &str) -> Result<Option<Credentials>, UrlError> {
    let allowed = |b: u8| is_unreserved(b) || is_sub_delim(b) || b"%:".contains(&b) || b >= 0x80;
    if !userinfo.bytes().all(allowed) {
        return Err(UrlError::UserInfo);
    }
    let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let username = percent_decode(username).ok_or(UrlError::UserInfo)?;
    let password = percent_decode(password).ok_or(UrlError::UserInfo)?;
    // RFC 7617 §2: "a user-id containing a colon character is invalid", and neither part may
    // contain control characters.
    let has_control = |s: &str| s.chars().any(char::is_control);
    if username.contains(':') || has_control(&username) || has_control(&password) {
        return Err(UrlError::UserInfo);
    }
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials { username, password }))
}

/// Splits `host[:port]` or `[v6]:port` into the host (see [`WsUrl::host`]), whether it is an
/// IPv6 literal, and the explicit port if any.
fn parse_authority(authority: &str) -> Result<(String, bool, Option<u16>), UrlError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed.split_once(']').ok_or(UrlError::InvalidHost)?;
        let host = parse_ipv6(literal)?;
        let port = match after {
            "" => None,
            _ => parse_port(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?)?,
        };
        return Ok((host, true, port));
    }
    let (host, port) = match authority.split_once(':') {
        // RFC 3986 §3.2.2: an IPv6 address is only a host inside brackets.
        Some((_, port)) if port.contains(':') => return Err(UrlError::InvalidHost),
        Some((host, port)) => (host, parse_port(port)?),
        None => (authority, None),
    };
    Ok((parse_name(host)?, false, port))
}

/// An IPv6 literal, with an optional RFC 6874 zone (`fe80::1%25eth0`), as `fe80::1%eth0`.
fn parse_ipv6(literal: &str) -> Result<String, UrlError> {
    if literal.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    let (address, zone) = match literal.split_once('%') {
        // RFC 6874 §2: `IPv6addrz = IPv6address "%25" ZoneID`.
        Some((address, zone)) => (
            address,
            Some(zone.strip_prefix("25").ok_or(UrlError::InvalidHost)?),
        ),
        None => (literal, None),
    };
    let address = Ipv6Addr::from_str(address).map_err(|_| UrlError::InvalidHost)?;
    let mut host = address.to_string();
    if let Some(zone) = zone {
        // `ZoneID = 1*( unreserved / pct-encoded )`. Interface names and indexes are
        // unreserved characters; taking only those keeps `%` and anything a resolver might
        // read differently out of the host.
        if zone.is_empty() || !zone.bytes().all(is_unreserved) {
            return Err(UrlError::InvalidHost);
        }
        host.push('%');
        host.push_str(zone);
    }
    Ok(host)
}

/// A host that is not an IPv6 literal: a domain or an IPv4 address, lowercased.
fn parse_name(host: &str) -> Result<String, UrlError> {
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if !host.is_ascii() {
        return Err(UrlError::NonAsciiHost(host.to_owned()));
    }
    let host = host.to_ascii_lowercase();
    let name = host.strip_suffix('.').unwrap_or(&host);
    // WHATWG's "ends in a number": such a host is an IPv4 address, and must be one in the
    // dotted-decimal form every resolver reads alike (`Ipv4Addr` refuses leading zeros too).
    let last = name.rsplit('.').next().unwrap_or_default();
    if is_number(last) {
        return match Ipv4Addr::from_str(&host) {
            Ok(_) => Ok(host),
            Err(_) => Err(UrlError::InvalidHost),
        };
    }
    // The letters, digits and hyphens of RFC 1035 §2.3.1, and `_`, which is not in that rule
    // but is common in real names. Lengths are the resolver's to check.
    let valid_label = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !name.split('.').all(valid_label) {
        return Err(UrlError::InvalidHost);
    }
    Ok(host)
}

/// A label WHATWG's IPv4 parser reads as a number: decimal digits, or `0x` and hex digits.
fn is_number(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
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

/// RFC 3986 §2.3 unreserved characters.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// RFC 3986 §2.2 sub-delims.
fn is_sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// Decodes `%XX` sequences; `None` for a `%` without two hex digits or a result that is not
/// UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let (high, low) = (
                hex_value(*bytes.get(i + 1)?)?,
                hex_value(*bytes.get(i + 2)?)?,
            );
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The value of a hex digit.
fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Whether `rest` starts with two hex digits (what follows a `%` in a percent-encoding).
fn starts_with_hex_pair(rest: &[u8]) -> bool {
    rest.len() >= 2 && rest[..2].iter().all(u8::is_ascii_hexdigit)
}

/// Percent-encodes the bytes that cannot appear in an HTTP request-target (RFC 9112 §3.2,
/// RFC 3986 §3.3 and §3.4), including a `%` that does not start an encoding, which is taken
/// as a literal `%`. Existing encodings are kept as written.
fn encode_resource(resource: &str) -> String {
    let bytes = resource.as_bytes();
    let mut out = String::with_capacity(resource.len());
    for (i, &b) in bytes.iter().enumerate() {
        let keep = match b {
            b'%' => starts_with_hex_pair(&bytes[i + 1..]),
            _ => b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b),
        };
        if keep {
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
