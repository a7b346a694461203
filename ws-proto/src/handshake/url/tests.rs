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
