//! Header fields of the handshake, and the comma-list grammars the WebSocket headers use.

use std::fmt;

/// The header fields of a request or response, in the order they were received or added.
///
/// Repeated names are kept as separate entries (RFC 7230 §3.2.2 lets a list-valued field be
/// split over several lines, and RFC 6455 §4.1 allows that for `Sec-WebSocket-Protocol` and
/// `Sec-WebSocket-Extensions`). Lookups ignore ASCII case, as header names are
/// case-insensitive.
///
/// ```
/// use ws_proto::handshake::Headers;
///
/// let mut headers = Headers::new();
/// headers.push("Cookie", "a=1");
/// headers.push("cookie", "b=2");
/// assert_eq!(headers.get("COOKIE"), Some("a=1"));
/// assert_eq!(headers.get_all("Cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

/// One offer from a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): an extension name and
/// its parameters, in order. A parameter given as a quoted string is stored unquoted.
///
/// ```
/// use ws_proto::handshake::ExtensionOffer;
///
/// let offers =
///     ExtensionOffer::parse_list("permessage-deflate; client_max_window_bits, x-foo; a=\"1\"")
///         .unwrap();
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params, [("client_max_window_bits".to_string(), None)]);
/// assert_eq!(offers[1].params, [("a".to_string(), Some("1".to_string()))]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// `name[=value]` parameters in the order given.
    pub params: Vec<(String, Option<String>)>,
}

/// A `Sec-WebSocket-Extensions` value that does not follow the RFC 6455 §9.1 grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidExtensionList;

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Appends a field, keeping any earlier field of the same name.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// The value of the first field called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether any field called `name` lists `token` in its comma-separated value, comparing
    /// ASCII case-insensitively (as for `Connection: keep-alive, Upgrade`).
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(split_list)
            .any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Every `(name, value)` pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of fields (repeated names counted separately).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Converts parsed fields; `None` if a value is not UTF-8.
    pub(crate) fn from_parsed(parsed: &[httparse::Header<'_>]) -> Option<Headers> {
        let entries = parsed
            .iter()
            .map(|h| {
                let value = std::str::from_utf8(h.value).ok()?;
                Some((h.name.to_owned(), value.to_owned()))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Headers { entries })
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl ExtensionOffer {
    /// Parses one `Sec-WebSocket-Extensions` value into its offers (RFC 6455 §9.1). Empty list
    /// elements are skipped; anything else off the grammar is an error.
    pub fn parse_list(value: &str) -> Result<Vec<ExtensionOffer>, InvalidExtensionList> {
        let mut p = Cursor {
            s: value.as_bytes(),
            at: 0,
        };
        let mut offers = Vec::new();
        loop {
            p.skip_ows();
            match p.peek() {
                None => return Ok(offers),
                Some(b',') => {
                    p.at += 1;
                    continue;
                }
                Some(_) => {}
            }
            let name = p.token().ok_or(InvalidExtensionList)?;
            let mut params = Vec::new();
            loop {
                p.skip_ows();
                if p.peek() != Some(b';') {
                    break;
                }
                p.at += 1;
                p.skip_ows();
                let key = p.token().ok_or(InvalidExtensionList)?;
                p.skip_ows();
                let value = if p.peek() == Some(b'=') {
                    p.at += 1;
                    p.skip_ows();
                    let value = match p.peek() {
                        Some(b'"') => p.quoted().ok_or(InvalidExtensionList)?,
                        _ => p.token().ok_or(InvalidExtensionList)?,
                    };
                    // §9.1: a quoted value must still be a token once unquoted.
                    if !is_token(&value) {
                        return Err(InvalidExtensionList);
                    }
                    Some(value)
                } else {
                    None
                };
                params.push((key, value));
            }
            offers.push(ExtensionOffer { name, params });
            p.skip_ows();
            match p.peek() {
                None => return Ok(offers),
                Some(b',') => p.at += 1,
                Some(_) => return Err(InvalidExtensionList),
            }
        }
    }
}

impl fmt::Display for ExtensionOffer {
    /// Writes the offer back in header syntax, e.g. `permessage-deflate; client_max_window_bits`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (key, value) in &self.params {
            write!(f, "; {key}")?;
            if let Some(value) = value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for InvalidExtensionList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed Sec-WebSocket-Extensions value")
    }
}

impl std::error::Error for InvalidExtensionList {}

// ----------------------------------------------------------------------------------- helpers

/// The non-empty elements of a comma-separated list (RFC 7230 §7 `#rule`), with optional
/// whitespace around each trimmed.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(|t| t.trim_matches([' ', '\t']))
        .filter(|t| !t.is_empty())
}

/// Whether `s` is a non-empty RFC 7230 token (the grammar of header names, subprotocol names
/// and extension names).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// A byte of an RFC 7230 token.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `value` can be written as a header value: visible characters, spaces and tabs, and
/// nothing that could end the line (CR, LF) or the string (NUL).
pub(crate) fn is_valid_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80)
}

/// A byte cursor for the extension grammar.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        let token = self.s.get(start..self.at)?;
        (!token.is_empty()).then(|| String::from_utf8_lossy(token).into_owned())
    }

    /// A quoted-string (RFC 7230 §3.2.6), returned without quotes and with escapes resolved.
    fn quoted(&mut self) -> Option<String> {
        self.at += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.at += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    out.push(self.peek()?);
                    self.at += 1;
                }
                b'\r' | b'\n' | 0 => return None,
                _ => out.push(b),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_keep_order_and_ignore_case() {
        let mut h = Headers::new();
        h.push("X-A", "1");
        h.push("Host", "example.com");
        h.push("x-a", "2");
        h.push("X-a", "3");
        assert_eq!(h.len(), 4);
        assert!(!h.is_empty());
        assert_eq!(h.get("x-A"), Some("1"));
        assert_eq!(h.get_all("X-A").collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(h.get("missing"), None);
        assert!(h.contains("HOST"));
        let names: Vec<_> = (&h).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["X-A", "Host", "x-a", "X-a"]);
    }

    #[test]
    fn token_lists() {
        let mut h = Headers::new();
        h.push("Connection", "keep-alive, Upgrade");
        h.push("Upgrade", "h2c");
        h.push("upgrade", " WebSocket ,");
        assert!(h.contains_token("connection", "upgrade"));
        assert!(h.contains_token("Upgrade", "websocket"));
        assert!(!h.contains_token("Connection", "close"));
        assert_eq!(split_list(" a ,, b\t,").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(split_list("").count(), 0);
    }

    #[test]
    fn tokens_and_values() {
        assert!(is_token("chat.v2"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a,b"));
        assert!(is_valid_value("a b\tc"));
        assert!(!is_valid_value("a\r\nb"));
        assert!(!is_valid_value("a\0"));
    }

    #[test]
    fn extension_offers() {
        let offers = ExtensionOffer::parse_list(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10 , \
             permessage-deflate ;client_max_window_bits=\"15\",, x-y",
        );
        let want = vec![
            ExtensionOffer {
                name: "permessage-deflate".into(),
                params: vec![
                    ("client_max_window_bits".into(), None),
                    ("server_max_window_bits".into(), Some("10".into())),
                ],
            },
            ExtensionOffer {
                name: "permessage-deflate".into(),
                params: vec![("client_max_window_bits".into(), Some("15".into()))],
            },
            ExtensionOffer {
                name: "x-y".into(),
                params: vec![],
            },
        ];
        assert_eq!(offers, Ok(want));
        assert_eq!(ExtensionOffer::parse_list(""), Ok(vec![]));
        assert_eq!(
            ExtensionOffer::parse_list("a; b=\"c\\d\"").map(|o| o[0].to_string()),
            Ok("a; b=cd".to_string())
        );
    }

    #[test]
    fn malformed_extension_offers() {
        for bad in [
            "; a",
            "a; ",
            "a; =1",
            "a; b=",
            "a b",
            "a; b=\"1",
            "a; b=\"x y\"",
            "a;b=1 2",
        ] {
            assert_eq!(
                ExtensionOffer::parse_list(bad),
                Err(InvalidExtensionList),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn extension_lists_round_trip(s in "[a-z;=,\" \\\\]{0,30}") {
            if let Ok(offers) = ExtensionOffer::parse_list(&s) {
                let text = offers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                proptest::prop_assert_eq!(ExtensionOffer::parse_list(&text), Ok(offers));
            }
        }
    }
}
