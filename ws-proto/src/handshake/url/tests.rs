use super::*;

fn url(s: &str) -> WsUrl {
    match WsUrl::parse(s) {
        Ok(url) => url,
        Err(e) => panic!("{s}: {e}"),
    }
}

/// The URL less its credentials: what its `Display` form parses back to.
fn without_credentials(url: &WsUrl) -> WsUrl {
    WsUrl {
        credentials: None,
        ..url.clone()
    }
}

/// URLs that must parse: (input, scheme, host, port, request-target, `Host` header).
#[rustfmt::skip]
const ACCEPTED: &[(&str, &str, &str, u16, &str, &str)] = &[
    // Schemes and hosts in any case; hosts are lowercased, paths are not.
    ("WS://Example.COM/", "ws", "example.com", 80, "/", "example.com"),
    ("wS://EXAMPLE.com", "ws", "example.com", 80, "/", "example.com"),
    ("Wss://h", "wss", "h", 443, "/", "h"),
    ("WSS://Example.COM:8443/Chat", "wss", "example.com", 8443, "/Chat", "example.com:8443"),
    // Default ports: explicit, empty or elided, the Host header does not repeat them.
    ("ws://h:80/", "ws", "h", 80, "/", "h"),
    ("ws://h:/", "ws", "h", 80, "/", "h"),
    ("ws://h:00080/", "ws", "h", 80, "/", "h"),
    ("wss://h:443/", "wss", "h", 443, "/", "h"),
    ("wss://h:/x", "wss", "h", 443, "/x", "h"),
    // The other scheme's default port is not a default.
    ("wss://h:80/", "wss", "h", 80, "/", "h:80"),
    ("ws://h:443/", "ws", "h", 443, "/", "h:443"),
    ("ws://h:1/", "ws", "h", 1, "/", "h:1"),
    ("ws://h:65535/", "ws", "h", 65535, "/", "h:65535"),
    // IPv4 literals.
    ("ws://127.0.0.1:9001", "ws", "127.0.0.1", 9001, "/", "127.0.0.1:9001"),
    ("wss://192.168.0.1/", "wss", "192.168.0.1", 443, "/", "192.168.0.1"),
    // IPv6 literals, stored without brackets in RFC 5952 form.
    ("ws://[::1]:9001/", "ws", "::1", 9001, "/", "[::1]:9001"),
    ("ws://[2001:db8::1]/", "ws", "2001:db8::1", 80, "/", "[2001:db8::1]"),
    ("wss://[2001:DB8:0:0:0:0:0:1]", "wss", "2001:db8::1", 443, "/", "[2001:db8::1]"),
    ("ws://[::ffff:192.0.2.1]/", "ws", "::ffff:192.0.2.1", 80, "/", "[::ffff:192.0.2.1]"),
    ("ws://[::1]:/", "ws", "::1", 80, "/", "[::1]"),
    // RFC 6874 zones: kept for the resolver, left out of the Host header (§4).
    ("ws://[fe80::1%25eth0]:9001/", "ws", "fe80::1%eth0", 9001, "/", "[fe80::1]:9001"),
    ("ws://[FE80::1%25En0]/", "ws", "fe80::1%En0", 80, "/", "[fe80::1]"),
    ("ws://[fe80::1%2512]/", "ws", "fe80::1%12", 80, "/", "[fe80::1]"),
    // Userinfo never reaches the Host header or the request-target.
    ("ws://user:pass@h/", "ws", "h", 80, "/", "h"),
    ("wss://user@Example.com:8443/", "wss", "example.com", 8443, "/", "example.com:8443"),
    ("ws://@h/", "ws", "h", 80, "/", "h"),
    // Empty path, query only.
    ("ws://h", "ws", "h", 80, "/", "h"),
    ("ws://h?x=1", "ws", "h", 80, "/?x=1", "h"),
    ("ws://h:9001?x=1", "ws", "h", 9001, "/?x=1", "h:9001"),
    ("ws://h/?", "ws", "h", 80, "/?", "h"),
    // Percent-encodings are kept as sent, in either case.
    ("ws://h/a%20b?c=%2F", "ws", "h", 80, "/a%20b?c=%2F", "h"),
    ("ws://h/a%2fb", "ws", "h", 80, "/a%2fb", "h"),
    // Non-ASCII is UTF-8 percent-encoded, as browsers send it.
    ("ws://h/caf\u{e9}?q=\u{e9}", "ws", "h", 80, "/caf%C3%A9?q=%C3%A9", "h"),
    // A `%` that starts no encoding is a literal `%`.
    ("ws://h/100%", "ws", "h", 80, "/100%25", "h"),
    ("ws://h/%zz?%4", "ws", "h", 80, "/%25zz?%254", "h"),
    // Characters RFC 3986 does not allow in a request-target.
    ("ws://h/\"<>^`{|}", "ws", "h", 80, "/%22%3C%3E%5E%60%7B%7C%7D", "h"),
    // Kept as written: dot segments, brackets (`a[]=1` queries), `@`, `:` and `?`.
    ("ws://h/a/../b", "ws", "h", 80, "/a/../b", "h"),
    ("ws://h/[a]?b[]=1", "ws", "h", 80, "/[a]?b[]=1", "h"),
    ("ws://h/x@y:z", "ws", "h", 80, "/x@y:z", "h"),
    ("ws://h?x=@y", "ws", "h", 80, "/?x=@y", "h"),
    ("ws://h/a?b?c/d", "ws", "h", 80, "/a?b?c/d", "h"),
    ("ws://h/p?next=ws://x", "ws", "h", 80, "/p?next=ws://x", "h"),
    // Punycode, underscores, trailing dots (kept, as browsers keep them).
    ("ws://xn--caf-dma.example/", "ws", "xn--caf-dma.example", 80, "/", "xn--caf-dma.example"),
    ("ws://XN--CAF-DMA.Example/", "ws", "xn--caf-dma.example", 80, "/", "xn--caf-dma.example"),
    ("ws://my_host.example/", "ws", "my_host.example", 80, "/", "my_host.example"),
    ("ws://example.com./", "ws", "example.com.", 80, "/", "example.com."),
    ("ws://localhost.:9001/", "ws", "localhost.", 9001, "/", "localhost.:9001"),
    // A last label that is not a number makes a domain, digits elsewhere or not.
    ("ws://1.2.3.example/", "ws", "1.2.3.example", 80, "/", "1.2.3.example"),
    ("ws://example.123abc/", "ws", "example.123abc", 80, "/", "example.123abc"),
];

#[test]
fn accepted_urls_and_their_parts() {
    for &(input, scheme, host, port, resource, host_header) in ACCEPTED {
        let u = url(input);
        let parts = (
            u.scheme(),
            u.host(),
            u.port(),
            u.resource(),
            u.host_header(),
        );
        assert_eq!(
            parts,
            (scheme, host, port, resource, host_header.to_owned()),
            "{input}"
        );
        assert_eq!(u.is_secure(), scheme == "wss", "{input}");
        // The display form parses back to the same URL, less any credentials.
        assert_eq!(url(&u.to_string()), without_credentials(&u), "{input}");
        assert_eq!(input.parse::<WsUrl>().as_ref(), Ok(&u), "{input}");
    }
}

#[test]
fn default_port_explicit_or_not_is_the_same_url() {
    let pairs = [
        ("ws://h:80/", "ws://h/"),
        ("ws://h:/", "ws://h"),
        ("wss://h:443/x", "wss://h/x"),
        ("WS://H/", "ws://h/"),
        ("ws://[::1]:80/", "ws://[0:0::1]/"),
    ];
    for (a, b) in pairs {
        assert_eq!(url(a), url(b), "{a} / {b}");
        assert_eq!(url(a).to_string(), url(b).to_string(), "{a} / {b}");
    }
    assert_ne!(url("ws://h:443/"), url("wss://h/"));
}

#[test]
fn display_forms() {
    let cases = [
        ("WS://Example.COM", "ws://example.com/"),
        ("ws://h:80/x?y", "ws://h/x?y"),
        ("wss://h:80/", "wss://h:80/"),
        ("ws://[2001:DB8::1]:9001", "ws://[2001:db8::1]:9001/"),
        // The zone goes back to its `%25` form (RFC 6874 §2).
        ("ws://[fe80::1%25eth0]/", "ws://[fe80::1%25eth0]/"),
        // Credentials are never displayed.
        ("wss://user:secret@h:8443/x", "wss://h:8443/x"),
        ("wss://h/caf\u{e9}", "wss://h/caf%C3%A9"),
    ];
    for (input, want) in cases {
        assert_eq!(url(input).to_string(), want, "{input}");
    }
}

#[test]
fn path_and_query_split() {
    let cases = [
        ("ws://h", "/", None),
        ("ws://h/a/b", "/a/b", None),
        ("ws://h?", "/", Some("")),
        ("ws://h?x=1", "/", Some("x=1")),
        ("ws://h/a?b?c", "/a", Some("b?c")),
    ];
    for (input, path, query) in cases {
        let u = url(input);
        assert_eq!((u.path(), u.query()), (path, query), "{input}");
    }
}

/// A user name and password, percent-decoded.
type UserPass = Option<(&'static str, &'static str)>;

/// URLs with userinfo: (input, decoded credentials, `Authorization` value).
#[rustfmt::skip]
const CREDENTIALS: &[(&str, UserPass, Option<&str>)] = &[
    ("ws://user:pass@h/", Some(("user", "pass")), Some("Basic dXNlcjpwYXNz")),
    ("ws://user@h/", Some(("user", "")), Some("Basic dXNlcjo=")),
    ("ws://:pass@h/", Some(("", "pass")), Some("Basic OnBhc3M=")),
    // An empty userinfo carries no credentials.
    ("ws://@h/", None, None),
    ("ws://:@h/", None, None),
    ("ws://h/", None, None),
    // Percent-decoded; the password may hold `:`.
    ("ws://us%40er:p%3Ass@h/", Some(("us@er", "p:ss")), Some("Basic dXNAZXI6cDpzcw==")),
    ("ws://user:pa:ss@h/", Some(("user", "pa:ss")), Some("Basic dXNlcjpwYTpzcw==")),
    // UTF-8, encoded or not (RFC 7617 §2.1).
    ("ws://J%C3%B6rg:pw@h/", Some(("J\u{f6}rg", "pw")), Some("Basic SsO2cmc6cHc=")),
    ("ws://J\u{f6}rg:pw@h/", Some(("J\u{f6}rg", "pw")), Some("Basic SsO2cmc6cHc=")),
    // RFC 7617 §2's example.
    ("wss://Aladdin:open%20sesame@h/", Some(("Aladdin", "open sesame")),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")),
];

#[test]
fn userinfo_becomes_basic_credentials_and_goes_nowhere_else() {
    for &(input, credentials, authorization) in CREDENTIALS {
        let u = url(input);
        assert_eq!(u.credentials(), credentials, "{input}");
        assert_eq!(u.basic_authorization().as_deref(), authorization, "{input}");
        assert_eq!(u.host_header(), "h", "{input}");
        assert_eq!(u.resource(), "/", "{input}");
        assert!(!u.to_string().contains('@'), "{input}: {u}");
        if let Some((_, password)) = credentials.filter(|(_, p)| !p.is_empty()) {
            let shown = format!("{u} {u:?}");
            assert!(!shown.contains(password), "{input}: {shown}");
        }
    }
    // Debug names the user, so that a log says whose credentials were used.
    assert_eq!(
        format!("{:?}", url("wss://ann:secret@h:8443/x")),
        r#"WsUrl { url: wss://h:8443/x, username: "ann" }"#
    );
}

#[test]
fn refused_urls_and_why() {
    use UrlError::*;
    let cases = [
        // No scheme, or something else before `://`.
        ("", MissingScheme),
        ("example.com/x", MissingScheme),
        ("localhost:9001", MissingScheme),
        ("ws:example.com", MissingScheme),
        ("ws:/example.com", MissingScheme),
        ("//example.com/", MissingScheme),
        ("example.com/?next=ws://x", MissingScheme),
        ("1ws://h/", MissingScheme),
        ("ftp://h/", UnsupportedScheme),
        ("wsx://h/", UnsupportedScheme),
        ("file:///x", UnsupportedScheme),
        // RFC 6455 §3 defines only ws and wss; WHATWG's mapping of http(s) is not followed.
        ("http://example.com/", UnsupportedScheme),
        ("HTTPS://example.com/", UnsupportedScheme),
        // RFC 6455 §3: no fragments, even empty.
        ("ws://h/#frag", Fragment),
        ("ws://h#", Fragment),
        ("ws://h/?a=1#b", Fragment),
        ("wss://user:pw@h/#x", Fragment),
        // Userinfo that cannot be sent as Basic credentials.
        ("ws://a@b@h/", UserInfo),
        ("ws://us[er@h/", UserInfo),
        ("ws://user%ZZ@h/", UserInfo),
        ("ws://user%4@h/", UserInfo),
        ("ws://user:%+1@h/", UserInfo),
        ("ws://user%00@h/", UserInfo),
        ("ws://user:pw%0D%0A@h/", UserInfo),
        ("ws://user%FF@h/", UserInfo),
        ("ws://us%3Aer:pw@h/", UserInfo),
        // Missing host.
        ("ws://", EmptyHost),
        ("ws:///path", EmptyHost),
        ("ws://?x=1", EmptyHost),
        ("ws://:80/", EmptyHost),
        ("ws://[]/", EmptyHost),
        ("ws://user:pw@/", EmptyHost),
        ("ws://user@:80/", EmptyHost),
        // Malformed IPv6 literals, and IPv6 without brackets (RFC 3986 §3.2.2).
        ("ws://[::1/", InvalidHost),
        ("ws://[zz::1]/", InvalidHost),
        ("ws://[::1]x/", InvalidHost),
        ("ws://[::1]]/", InvalidHost),
        ("ws://[1.2.3.4]/", InvalidHost),
        ("ws://[v1.x]/", InvalidHost),
        ("ws://::1/", InvalidHost),
        ("ws://2001:db8::1/", InvalidHost),
        ("ws://fe80::1:9001/", InvalidHost),
        ("ws://h:1:2/", InvalidHost),
        // Zones: only `%25` starts one (RFC 6874 §2), and it holds unreserved characters.
        ("ws://[fe80::1%eth0]/", InvalidHost),
        ("ws://[fe80::1%25]/", InvalidHost),
        ("ws://[fe80::1%2]/", InvalidHost),
        ("ws://[fe80::1%25eth%300]/", InvalidHost),
        ("ws://[fe80::1%25eth0%25]/", InvalidHost),
        ("ws://[%25eth0]/", InvalidHost),
        // Host names: no `%`, no sub-delims, no empty labels.
        ("ws://ex%41mple.com/", InvalidHost),
        ("ws://exa<mple.com/", InvalidHost),
        ("ws://exa!mple.com/", InvalidHost),
        ("ws://a..b/", InvalidHost),
        ("ws://.a/", InvalidHost),
        ("ws://./", InvalidHost),
        ("ws://a.b../", InvalidHost),
        // A host ending in a number must be a dotted-decimal IPv4 address.
        ("ws://1.2.3.999/", InvalidHost),
        ("ws://1.2.3/", InvalidHost),
        ("ws://127.1/", InvalidHost),
        ("ws://0x7f.1/", InvalidHost),
        ("ws://0x7F000001/", InvalidHost),
        ("ws://2130706433/", InvalidHost),
        ("ws://010.0.0.1/", InvalidHost),
        ("ws://1.2.3.4./", InvalidHost),
        ("ws://example.123/", InvalidHost),
        ("ws://example.0x/", InvalidHost),
        // Ports.
        ("ws://h:0/", InvalidPort),
        ("ws://[::1]:0/", InvalidPort),
        ("ws://h:65536/", InvalidPort),
        ("ws://h:99999999999999999999/", InvalidPort),
        ("ws://h:+80/", InvalidPort),
        ("ws://h:-1/", InvalidPort),
        ("ws://h:80a/", InvalidPort),
        ("ws://h:http/", InvalidPort),
        ("ws://h:\u{663}/", InvalidPort),
        // Whitespace, control characters and backslashes, anywhere.
        ("ws://h/a b", InvalidCharacter),
        (" ws://h/", InvalidCharacter),
        ("ws://h/ ", InvalidCharacter),
        ("ws://h:8 0/", InvalidCharacter),
        ("ws://h/\tx", InvalidCharacter),
        ("ws://h/\r\nX: y", InvalidCharacter),
        ("ws://h/\0", InvalidCharacter),
        ("ws://h/\u{7f}", InvalidCharacter),
        ("ws://h/\u{85}", InvalidCharacter),
        ("ws://h/\u{a0}", InvalidCharacter),
        ("ws://h/\u{2028}", InvalidCharacter),
        ("ws://h\\path", InvalidCharacter),
        ("ws://evil.example\\@good.example/", InvalidCharacter),
        ("ws://h/a\\b", InvalidCharacter),
        ("ws:\\\\h/", InvalidCharacter),
    ];
    for (input, want) in cases {
        assert_eq!(WsUrl::parse(input), Err(want.clone()), "{input:?}");
        assert!(!want.to_string().is_empty());
    }
}

#[test]
fn non_ascii_hosts_are_refused_by_name() {
    let cases = [
        ("ws://café.example/", "café.example"),
        ("wss://user:pw@Bücher.de:8443/x", "Bücher.de"),
        ("ws://例え.テスト/", "例え.テスト"),
        ("ws://ＥＸ.com/", "ＥＸ.com"),
    ];
    for (input, host) in cases {
        let error = WsUrl::parse(input).expect_err(input);
        assert_eq!(error, UrlError::NonAsciiHost(host.to_owned()), "{input}");
        let message = error.to_string();
        assert!(
            message.contains(host) && message.contains("punycode"),
            "{message}"
        );
        assert!(!message.contains("pw"), "{message}");
    }
}

#[test]
fn long_inputs() {
    // Names longer than DNS allows (RFC 1035 §2.3.4) are passed on: the resolver refuses them
    // with an error of its own, before any query leaves the machine.
    let label64 = "a".repeat(64);
    let host300 = format!("{label64}.").repeat(5);
    for host in [format!("{label64}.invalid"), host300] {
        assert_eq!(url(&format!("ws://{host}/")).host(), host);
    }
    // The request-target has no limit here: a server refuses one too long with a 414.
    let path = format!("/{}", "p".repeat(100_000));
    assert_eq!(url(&format!("ws://h{path}")).resource(), path);
    let query = "q=%20".repeat(20_000);
    assert_eq!(
        url(&format!("ws://h?{query}")).query(),
        Some(query.as_str())
    );
}

/// Checks what a handshake writes from an accepted URL: a `Host` value and a request-target
/// that are visible ASCII without `#`, the `Host` value without `%`, `@` or `/`, and the
/// request-target free of characters RFC 3986 forbids there and of broken encodings.
fn check_accepted(input: &str, u: &WsUrl) -> Result<(), proptest::test_runner::TestCaseError> {
    let header = u.host_header();
    proptest::prop_assert!(
        header
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"#%@/?\\".contains(&b)),
        "{input:?} gave Host {header:?}"
    );
    let target = u.resource().as_bytes();
    proptest::prop_assert!(target.first() == Some(&b'/'), "{input:?}");
    for (i, &b) in target.iter().enumerate() {
        proptest::prop_assert!(
            b.is_ascii_graphic() && !b"#\"<>\\^`{|}".contains(&b),
            "{input:?} gave request-target {:?}",
            u.resource()
        );
        if b == b'%' {
            proptest::prop_assert!(starts_with_hex_pair(&target[i + 1..]), "{input:?}");
        }
    }
    proptest::prop_assert_eq!(WsUrl::parse(&u.to_string()), Ok(without_credentials(u)));
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2048))]

    /// URL-shaped strings, mostly well formed, with the characters each part must refuse or
    /// encode mixed in one element at a time so that many of them still parse.
    #[test]
    fn url_shaped_strings_never_panic_and_accepted_ones_are_safe(
        s in concat!(
            r"(ws|wss|WSS|Ws|http)://",
            r"(([a-z0-9:]|%[0-9A-F]{2}|[%@\[\u{e9}]){0,6}@)?",
            r"(",
            r"\[([0-9a-fA-F]{0,4}:){1,7}[0-9a-fA-F]{0,4}(%25[a-z0-9%.]{0,4}|%[a-z0-9]{0,3})?\]",
            r"|([a-z0-9_-]{0,4}[.%!,xX\u{e9}\\]?){1,4}",
            r")",
            r"(:[0-9+]{0,6})?",
            r"([/?]([a-z0-9/?=&.]{1,3}|%[0-9a-fA-F]{2}|%",
            r"|[\u{e9}\x22<>^`{|}\[\]@:]|[#\\ \t\x00\x7f\u{a0}]){0,8})?",
        ),
    ) {
        if let Ok(u) = WsUrl::parse(&s) {
            check_accepted(&s, &u)?;
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in proptest::prelude::any::<String>()) {
        if let Ok(u) = WsUrl::parse(&s) {
            check_accepted(&s, &u)?;
        }
    }

    #[test]
    fn arbitrary_strings_after_a_scheme_never_panic(s in proptest::prelude::any::<String>()) {
        let input = format!("ws://{s}");
        if let Ok(u) = WsUrl::parse(&input) {
            check_accepted(&input, &u)?;
        }
    }
}
