//! The negotiation matrix: every parameter, valid and invalid, in offers and in responses.

use super::*;

fn offers(value: &str) -> Vec<ExtensionOffer> {
    match ExtensionOffer::parse_list(value) {
        Ok(offers) => offers,
        Err(e) => panic!("{value}: {e}"),
    }
}

/// What a server with `config` answers to `value`: the agreed parameters and its header.
fn server_answer(value: &str, config: DeflateConfig) -> Option<(DeflateParams, String)> {
    accept_offer(&offers(value), &config)
}

/// Context takeover both ways and full windows: the server's own settings out of the way.
fn lenient() -> DeflateConfig {
    DeflateConfig::default().with_no_context_takeover(false)
}

fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
    }
}

#[test]
fn the_client_offer_follows_the_config() {
    assert_eq!(
        offer(&DeflateConfig::default()),
        "permessage-deflate; client_max_window_bits; client_no_context_takeover"
    );
    assert_eq!(
        offer(&lenient()),
        "permessage-deflate; client_max_window_bits"
    );
    let all = lenient()
        .with_no_context_takeover(true)
        .with_request_no_context_takeover(true)
        .with_max_window_bits(10)
        .with_peer_max_window_bits(9);
    assert_eq!(
        offer(&all),
        "permessage-deflate; client_max_window_bits=10; server_max_window_bits=9; \
         client_no_context_takeover; server_no_context_takeover"
    );
    // Out-of-range settings are brought into range, never offered as they are.
    let mut wild = lenient();
    wild.max_window_bits = 3;
    wild.peer_max_window_bits = 99;
    assert_eq!(offer(&wild), "permessage-deflate; client_max_window_bits=8");
}

#[test]
fn a_server_accepts_each_valid_parameter() {
    let cases: &[(&str, DeflateParams, &str)] = &[
        (
            "permessage-deflate",
            params(false, false, 15, 15),
            "permessage-deflate",
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            params(true, false, 15, 15),
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            params(false, true, 15, 15),
            "permessage-deflate; client_no_context_takeover",
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            params(false, false, 10, 15),
            "permessage-deflate; server_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_max_window_bits=\"8\"",
            params(false, false, 8, 15),
            "permessage-deflate; server_max_window_bits=8",
        ),
        (
            "permessage-deflate; client_max_window_bits",
            params(false, false, 15, 15),
            "permessage-deflate",
        ),
        (
            "permessage-deflate; client_max_window_bits=9",
            params(false, false, 15, 9),
            "permessage-deflate",
        ),
        (
            "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15",
            params(false, false, 15, 15),
            "permessage-deflate; server_max_window_bits=15",
        ),
    ];
    for (offer, want, header) in cases {
        assert_eq!(
            server_answer(offer, lenient()),
            Some((*want, (*header).to_owned())),
            "{offer}"
        );
    }
}

#[test]
fn a_server_applies_its_own_settings() {
    // Its own context takeover and window may always be stated (RFC 7692 §7.1.1.1, §7.1.2.1).
    assert_eq!(
        server_answer("permessage-deflate", DeflateConfig::default()),
        Some((
            params(true, false, 15, 15),
            "permessage-deflate; server_no_context_takeover".to_owned()
        ))
    );
    let small = lenient().with_max_window_bits(11);
    assert_eq!(
        server_answer("permessage-deflate; server_max_window_bits=13", small),
        Some((
            params(false, false, 11, 15),
            "permessage-deflate; server_max_window_bits=11".to_owned()
        ))
    );
    // The client's context takeover may always be refused (§7.1.1.2)...
    let request = lenient().with_request_no_context_takeover(true);
    assert_eq!(
        server_answer("permessage-deflate", request),
        Some((
            params(false, true, 15, 15),
            "permessage-deflate; client_no_context_takeover".to_owned()
        ))
    );
    // ...but its window only limited when it offered `client_max_window_bits` (§7.1.2.2).
    let peer = lenient().with_peer_max_window_bits(10);
    assert_eq!(
        server_answer("permessage-deflate", peer),
        Some((
            params(false, false, 15, 15),
            "permessage-deflate".to_owned()
        ))
    );
    assert_eq!(
        server_answer("permessage-deflate; client_max_window_bits", peer),
        Some((
            params(false, false, 15, 10),
            "permessage-deflate; client_max_window_bits=10".to_owned()
        ))
    );
    assert_eq!(
        server_answer("permessage-deflate; client_max_window_bits=12", peer),
        Some((
            params(false, false, 15, 10),
            "permessage-deflate; client_max_window_bits=10".to_owned()
        ))
    );
    assert_eq!(
        server_answer("permessage-deflate; client_max_window_bits=9", peer),
        Some((params(false, false, 15, 9), "permessage-deflate".to_owned()))
    );
}

#[test]
fn a_server_declines_an_invalid_offer_and_takes_the_next() {
    let invalid = [
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"x\"",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=1a",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=+9",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "x-webkit-deflate-frame",
    ];
    for offer in invalid {
        assert_eq!(server_answer(offer, lenient()), None, "{offer}");
        let with_fallback = format!("{offer}, permessage-deflate; client_no_context_takeover");
        assert_eq!(
            server_answer(&with_fallback, lenient()),
            Some((
                params(false, true, 15, 15),
                "permessage-deflate; client_no_context_takeover".to_owned()
            )),
            "{with_fallback}"
        );
    }
    // The first acceptable offer wins, whatever follows.
    assert_eq!(
        server_answer(
            "permessage-deflate; server_max_window_bits=9, permessage-deflate",
            lenient()
        )
        .map(|(p, _)| p.server_max_window_bits),
        Some(9)
    );
    // The extension name is case-insensitive.
    assert!(server_answer("Permessage-Deflate", lenient()).is_some());
}

/// What a client with `config` makes of a 101 accepting `value`.
fn client_check(
    value: &str,
    config: DeflateConfig,
) -> Result<Option<DeflateParams>, ResponseFault> {
    check_response(&offers(value), &config)
}

#[test]
fn a_client_accepts_what_its_offer_allows() {
    assert_eq!(client_check("", lenient()), Ok(None));
    let cases: &[(&str, DeflateParams)] = &[
        ("permessage-deflate", params(false, false, 15, 15)),
        (
            "permessage-deflate; server_no_context_takeover",
            params(true, false, 15, 15),
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            params(false, true, 15, 15),
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            params(false, false, 8, 15),
        ),
        (
            "permessage-deflate; client_max_window_bits=12",
            params(false, false, 15, 12),
        ),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=\"10\"",
            params(true, true, 9, 10),
        ),
    ];
    for (response, want) in cases {
        assert_eq!(
            client_check(response, lenient()),
            Ok(Some(*want)),
            "{response}"
        );
    }
    // A client that offered no context takeover keeps to it whatever the answer.
    assert_eq!(
        client_check("permessage-deflate", DeflateConfig::default()),
        Ok(Some(params(false, true, 15, 15)))
    );
    // Its own window stays within what it offered when the answer is silent about it.
    assert_eq!(
        client_check("permessage-deflate", lenient().with_max_window_bits(11)),
        Ok(Some(params(false, false, 15, 11)))
    );
}

#[test]
fn a_client_refuses_what_its_offer_does_not_allow() {
    let not_offered = [
        ("x-foo", "x-foo"),
        (
            "permessage-deflate, permessage-deflate",
            "permessage-deflate",
        ),
        ("permessage-deflate, x-foo; a=1", "x-foo; a=1"),
    ];
    for (response, named) in not_offered {
        assert_eq!(
            client_check(response, lenient()),
            Err(ResponseFault::NotOffered(named.to_owned())),
            "{response}"
        );
    }
    let invalid = [
        "permessage-deflate; foo",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=07",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover=true",
    ];
    for response in invalid {
        assert!(
            matches!(
                client_check(response, lenient()),
                Err(ResponseFault::Invalid(_))
            ),
            "{response}"
        );
    }
    // Windows larger than offered.
    assert_eq!(
        client_check(
            "permessage-deflate; server_max_window_bits=12",
            lenient().with_peer_max_window_bits(10)
        ),
        Err(ResponseFault::Invalid(
            "server_max_window_bits above the offered value"
        ))
    );
    assert_eq!(
        client_check(
            "permessage-deflate; client_max_window_bits=12",
            lenient().with_max_window_bits(10)
        ),
        Err(ResponseFault::Invalid(
            "client_max_window_bits above the offered value"
        ))
    );
}

#[test]
fn whatever_a_server_answers_its_client_accepts() {
    // Every combination of settings on both sides: the server's answer to the client's offer
    // passes the client's check, and both sides agree on every parameter.
    for bits in [8, 9, 12, 15] {
        for peer_bits in [8, 11, 15] {
            for flags in 0..16u8 {
                let client = DeflateConfig::default()
                    .with_no_context_takeover(flags & 1 != 0)
                    .with_request_no_context_takeover(flags & 2 != 0)
                    .with_max_window_bits(bits)
                    .with_peer_max_window_bits(peer_bits);
                let server = DeflateConfig::default()
                    .with_no_context_takeover(flags & 4 != 0)
                    .with_request_no_context_takeover(flags & 8 != 0)
                    .with_max_window_bits(peer_bits)
                    .with_peer_max_window_bits(bits.max(9));
                let Some((agreed, header)) = server_answer(&offer(&client), server) else {
                    panic!("declined {}", offer(&client));
                };
                assert_eq!(
                    client_check(&header, client),
                    Ok(Some(agreed)),
                    "{} -> {header}",
                    offer(&client)
                );
                assert!(agreed.server_max_window_bits <= peer_bits);
                assert!(agreed.client_max_window_bits <= bits.max(9));
            }
        }
    }
}
