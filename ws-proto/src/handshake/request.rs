//! A received HTTP request head, and the WebSocket checks of RFC 6455 §4.2.1.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::RequestError;
use super::headers::{ExtensionOffer, Headers, is_token, split_list};

/// The head of an HTTP request received by a [`ServerHandshake`](super::ServerHandshake).
///
/// Parsing and upgrade validation are separate steps: any well-formed HTTP/1.x request parses,
/// so a server can answer plain HTTP requests on the same listener, and
/// [`validate_upgrade`](Self::validate_upgrade) then decides whether it is a WebSocket opening
/// handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    minor_version: u8,
    headers: Headers,
    query: Vec<(String, String)>,
    subprotocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    /// The first malformed WebSocket list header, reported by `validate_upgrade`.
    list_error: Option<&'static str>,
}

impl Request {
    /// The method, e.g. `GET` (case-sensitive, as in HTTP).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request-target as received, e.g. `/chat?room=1`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path of the request-target, still percent-encoded. For an absolute-form target
    /// (`http://host/path`) the scheme and authority are removed; `/` if the path is empty.
    pub fn path(&self) -> &str {
        let (path, _) = split_target(&self.target);
        if path.is_empty() { "/" } else { path }
    }

    /// The query string without its `?`, still encoded, if the target has one.
    pub fn raw_query(&self) -> Option<&str> {
        split_target(&self.target).1
    }

    /// The query as `key=value` pairs in order, percent-decoded with `+` read as a space
    /// (`application/x-www-form-urlencoded`). A pair without `=` has an empty value; empty
    /// pairs are skipped.
    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    /// The decoded value of the first query pair named `key`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0 (the only versions that parse).
    pub fn http_version(&self) -> u8 {
        self.minor_version
    }

    /// All header fields, in order, repeated names kept.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The subprotocols the client offers, in its order of preference, from every
    /// `Sec-WebSocket-Protocol` header (RFC 6455 §4.1).
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The extensions the client offers, from every `Sec-WebSocket-Extensions` header (RFC 6455
    /// §9.1). A header that does not follow the grammar contributes nothing here and makes
    /// [`validate_upgrade`](Self::validate_upgrade) fail.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The `Sec-WebSocket-Key` value, if present (trimmed of surrounding whitespace).
    pub fn key(&self) -> Option<&str> {
        self.headers
            .get("sec-websocket-key")
            .map(|k| k.trim_matches([' ', '\t']))
    }

    /// Whether this looks like a WebSocket opening handshake at all: `Upgrade` lists
    /// `websocket`. Use it to route requests; [`validate_upgrade`](Self::validate_upgrade)
    /// does the full check.
    pub fn is_upgrade(&self) -> bool {
        self.headers.contains_token("upgrade", "websocket")
    }

    /// Checks every requirement RFC 6455 §4.2.1 places on an opening handshake, in this order:
    /// GET, HTTP/1.1, an origin-form or absolute-form target, exactly one non-empty `Host`,
    /// `Upgrade: websocket` and `Connection: upgrade` (tokens compared case-insensitively in
    /// comma lists), `Sec-WebSocket-Version: 13`, a `Sec-WebSocket-Key` that is base64 of 16
    /// bytes, no body, and well-formed `Sec-WebSocket-Protocol`/`-Extensions` lists.
    pub fn validate_upgrade(&self) -> Result<(), RequestError> {
        if self.method != "GET" {
            return Err(RequestError::MethodNotAllowed);
        }
        if self.minor_version != 1 {
            return Err(RequestError::UnsupportedHttpVersion);
        }
        if !self.target.starts_with('/') && split_absolute(&self.target).is_none() {
            return Err(RequestError::Malformed("request-target is not a path"));
        }
        let mut hosts = self.headers.get_all("host");
        match (hosts.next(), hosts.next()) {
            (None, _) => return Err(RequestError::MissingHost),
            (Some(host), None) if host.trim_matches([' ', '\t']).is_empty() => {
                return Err(RequestError::MissingHost);
            }
            (Some(_), None) => {}
            (Some(_), Some(_)) => return Err(RequestError::Malformed("duplicate Host")),
        }
        if !self.headers.contains_token("upgrade", "websocket") {
            return Err(RequestError::MissingUpgrade);
        }
        if !self.headers.contains_token("connection", "upgrade") {
            return Err(RequestError::MissingConnectionUpgrade);
        }
        // §4.2.1 item 6: exactly version 13; §4.4 says how to answer anything else.
        let mut versions = self.headers.get_all("sec-websocket-version");
        match (versions.next(), versions.next()) {
            (Some(v), None) if v.trim_matches([' ', '\t']) == "13" => {}
            (Some(v), _) => return Err(RequestError::UnsupportedVersion(Some(v.to_owned()))),
            (None, _) => return Err(RequestError::UnsupportedVersion(None)),
        }
        let mut keys = self.headers.get_all("sec-websocket-key");
        match (keys.next(), keys.next()) {
            (None, _) => return Err(RequestError::MissingKey),
            (Some(key), None) if is_valid_key(key.trim_matches([' ', '\t'])) => {}
            _ => return Err(RequestError::InvalidKey),
        }
        // Bytes after the head are WebSocket frames; a request body would be read as frames.
        let has_body = self.headers.contains("transfer-encoding")
            || self
                .headers
                .get_all("content-length")
                .any(|v| v.trim() != "0");
        if has_body {
            return Err(RequestError::Malformed(
                "an upgrade request cannot have a body",
            ));
        }
        if let Some(why) = self.list_error {
            return Err(RequestError::Malformed(why));
        }
        Ok(())
    }

    /// Builds a request from a parsed head; `None` if a header value is not UTF-8.
    pub(crate) fn from_parsed(parsed: &httparse::Request<'_, '_>) -> Option<Request> {
        let headers = Headers::from_parsed(parsed.headers)?;
        let target = parsed.path?.to_owned();
        let query = split_target(&target).1.map(parse_query).unwrap_or_default();

        let mut list_error = None;
        let mut subprotocols = Vec::new();
        for offer in headers
            .get_all("sec-websocket-protocol")
            .flat_map(split_list)
        {
            // §4.1 item 10: each element is a token, none repeated.
            if !is_token(offer) || subprotocols.iter().any(|p| p == offer) {
                list_error.get_or_insert("invalid Sec-WebSocket-Protocol");
            } else {
                subprotocols.push(offer.to_owned());
            }
        }
        let mut extensions = Vec::new();
        for value in headers.get_all("sec-websocket-extensions") {
            match ExtensionOffer::parse_list(value) {
                Ok(offers) => extensions.extend(offers),
                Err(_) => {
                    list_error.get_or_insert("invalid Sec-WebSocket-Extensions");
                }
            }
        }
        Some(Request {
            method: parsed.method?.to_owned(),
            target,
            minor_version: parsed.version?,
            headers,
            query,
            subprotocols,
            extensions,
            list_error,
        })
    }
}

// ----------------------------------------------------------------------------------- helpers

/// §4.2.1 item 5: a nonce that base64-decodes to exactly 16 bytes.
fn is_valid_key(key: &str) -> bool {
    // 16 bytes are always 24 base64 characters; checking first bounds the decode.
    key.len() == 24 && STANDARD.decode(key).is_ok_and(|nonce| nonce.len() == 16)
}

/// Splits a request-target into path and query (without `?`).
fn split_target(target: &str) -> (&str, Option<&str>) {
    let rest = split_absolute(target).unwrap_or(target);
    match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    }
}

/// For an absolute-form target (`scheme://authority/path?query`), the part from the path on.
fn split_absolute(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return None;
    }
    Some(rest.find(['/', '?']).map_or("", |at| &rest[at..]))
}

/// Parses `a=1&b&c=x%20y+z` into decoded pairs.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+`; a `%` not followed by two hex digits is kept as is, and
/// bytes that do not form UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &u8) -> Option<u8> {
    char::from(*b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Request {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        assert!(matches!(
            req.parse(head.as_bytes()),
            Ok(httparse::Status::Complete(_))
        ));
        match Request::from_parsed(&req) {
            Some(r) => r,
            None => panic!("not UTF-8"),
        }
    }

    #[test]
    fn query_is_percent_decoded() {
        let r =
            parse("GET /chat/room%201?a=1&name=J%C3%BCrgen+K&flag&&x=%zz&e=&a=2 HTTP/1.1\r\n\r\n");
        assert_eq!(r.path(), "/chat/room%201");
        assert_eq!(
            r.raw_query(),
            Some("a=1&name=J%C3%BCrgen+K&flag&&x=%zz&e=&a=2")
        );
        let pairs: Vec<(&str, &str)> = r
            .query()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "1"),
                ("name", "Jürgen K"),
                ("flag", ""),
                ("x", "%zz"),
                ("e", ""),
                ("a", "2")
            ]
        );
        assert_eq!(r.query_value("a"), Some("1"));
        assert_eq!(r.query_value("name"), Some("Jürgen K"));
        assert_eq!(r.query_value("nope"), None);
        assert_eq!(percent_decode("%ff%"), "\u{fffd}%");
    }

    #[test]
    fn absolute_form_target() {
        let r = parse("GET ws://example.com:9000/a/b?x=1 HTTP/1.1\r\n\r\n");
        assert_eq!((r.path(), r.query_value("x")), ("/a/b", Some("1")));
        let r = parse("GET http://example.com HTTP/1.1\r\n\r\n");
        assert_eq!((r.path(), r.raw_query()), ("/", None));
        let r = parse("GET / HTTP/1.1\r\n\r\n");
        assert_eq!((r.path(), r.raw_query(), r.query()), ("/", None, &[][..]));
    }

    #[test]
    fn key_validation() {
        assert!(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ")); // 16 bytes, unpadded
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZR==")); // non-zero trailing bits
        assert!(!is_valid_key("dGhlIHNhbXBsZSBub25jZQ==="));
        assert!(!is_valid_key("!!!!!!!!!!!!!!!!!!!!!!=="));
        assert!(!is_valid_key(""));
    }

    #[test]
    fn repeated_list_headers_are_merged() {
        let r = parse(
            "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
             Sec-WebSocket-Extensions: a; x=1\r\nsec-websocket-protocol: v2\r\n\
             Sec-WebSocket-Extensions: b\r\n\r\n",
        );
        assert_eq!(r.subprotocols(), ["chat", "superchat", "v2"]);
        let names: Vec<_> = r.extensions().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(r.list_error, None);
    }
}
