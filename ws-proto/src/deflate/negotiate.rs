//! Extension negotiation (RFC 7692 §5, §7.1): the client's offer, the server's choice, and the
//! client's check of the 101.

use std::fmt::Write;

use super::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, PERMESSAGE_DEFLATE};
use crate::handshake::ExtensionOffer;

/// The parameters of one offer or response, checked against the grammar of §7.1.
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: the parameter without a value (allowed in an offer only, §7.1.2.2).
    client_max_window_bits: Option<Option<u8>>,
}

/// Which message a parameter list came in: a value-less `client_max_window_bits` is allowed
/// only in an offer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

/// The `Sec-WebSocket-Extensions` value a client sends for `config` (one offer).
pub(crate) fn offer(config: &DeflateConfig) -> String {
    let config = config.clamped();
    let mut value = String::from(PERMESSAGE_DEFLATE);
    // Always offered, so a server can ask for a smaller window (§7.1.2.2).
    value.push_str("; client_max_window_bits");
    if config.max_window_bits < MAX_WINDOW_BITS {
        let _ = write!(value, "={}", config.max_window_bits);
    }
    if config.peer_max_window_bits < MAX_WINDOW_BITS {
        let _ = write!(
            value,
            "; server_max_window_bits={}",
            config.peer_max_window_bits
        );
    }
    if config.no_context_takeover {
        value.push_str("; client_no_context_takeover");
    }
    if config.request_no_context_takeover {
        value.push_str("; server_no_context_takeover");
    }
    value
}

/// A server's choice among the client's `offers` (§5.1): the first permessage-deflate offer it
/// can accept, with the agreed parameters and the value of the 101's
/// `Sec-WebSocket-Extensions`; `None` declines them all. An offer with an unknown, repeated or
/// invalid parameter is declined, not answered with an error.
pub(crate) fn accept_offer(
    offers: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    let config = config.clamped();
    offers
        .iter()
        .filter(|offer| offer.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .find_map(|offer| parse(&offer.params, Side::Offer).ok())
        .map(|offered| accept(&offered, &config))
}

fn accept(offered: &Params, config: &DeflateConfig) -> (DeflateParams, String) {
    // §7.1.2.1: the server's window may be anything up to what the client asked for, and may
    // be stated even when the client did not ask.
    let server_bits = offered
        .server_max_window_bits
        .unwrap_or(MAX_WINDOW_BITS)
        .min(config.max_window_bits);
    // §7.1.2.2: the client's window can only be limited if the client said it can be.
    let client_bits = match offered.client_max_window_bits {
        Some(value) => value
            .unwrap_or(MAX_WINDOW_BITS)
            .min(config.peer_max_window_bits),
        None => MAX_WINDOW_BITS,
    };
    let params = DeflateParams {
        server_no_context_takeover: offered.server_no_context_takeover
            || config.no_context_takeover,
        client_no_context_takeover: offered.client_no_context_takeover
            || config.request_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    let mut value = String::from(PERMESSAGE_DEFLATE);
    if params.server_no_context_takeover {
        value.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        value.push_str("; client_no_context_takeover");
    }
    // Stated only when asked for or below the default: some clients (Firefox among them)
    // refuse a `server_max_window_bits` they did not offer.
    if offered.server_max_window_bits.is_some() || server_bits < MAX_WINDOW_BITS {
        let _ = write!(value, "; server_max_window_bits={server_bits}");
    }
    if let Some(value_offered) = offered.client_max_window_bits
        && client_bits < value_offered.unwrap_or(MAX_WINDOW_BITS)
    {
        let _ = write!(value, "; client_max_window_bits={client_bits}");
    }
    (params, value)
}

/// A client's check of the extensions in a 101 against its offer for `config` (§7.1): none
/// (declined), or exactly one permessage-deflate whose parameters the offer allows.
pub(crate) fn check_response(
    accepted: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, ResponseFault> {
    let config = config.clamped();
    let response = match accepted {
        [] => return Ok(None),
        [one] if one.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) => one,
        [one] => return Err(ResponseFault::NotOffered(one.to_string())),
        [_, second, ..] => return Err(ResponseFault::NotOffered(second.to_string())),
    };
    let params = parse(&response.params, Side::Response).map_err(ResponseFault::Invalid)?;
    // §7.1.2.1: the server may not use a larger window than the client allowed.
    let server_bits = params.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
    if server_bits > config.peer_max_window_bits {
        return Err(ResponseFault::Invalid(
            "server_max_window_bits above the offered value",
        ));
    }
    // §7.1.2.2: offered without or with a value; the answer may lower it, not raise it.
    let client_bits = match params.client_max_window_bits {
        Some(Some(bits)) if bits > config.max_window_bits => {
            return Err(ResponseFault::Invalid(
                "client_max_window_bits above the offered value",
            ));
        }
        Some(Some(bits)) => bits,
        _ => config.max_window_bits,
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: params.server_no_context_takeover,
        // A client may always compress afresh; its offer said it would.
        client_no_context_takeover: params.client_no_context_takeover || config.no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}

/// What is wrong with the extensions a 101 accepted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResponseFault {
    /// An extension the client did not offer, or a second one.
    NotOffered(String),
    /// A permessage-deflate parameter that is unknown, repeated, malformed or not allowed.
    Invalid(&'static str),
}

/// Checks one parameter list against §7.1: known names only, each at most once, window bits
/// in 8–15 written without leading zeros, no value on the context-takeover flags.
fn parse(list: &[(String, Option<String>)], side: Side) -> Result<Params, &'static str> {
    let mut params = Params::default();
    for (name, value) in list {
        let value = value.as_deref();
        match name.as_str() {
            "server_no_context_takeover" => {
                set_flag(&mut params.server_no_context_takeover, value)?;
            }
            "client_no_context_takeover" => {
                set_flag(&mut params.client_no_context_takeover, value)?;
            }
            "server_max_window_bits" => {
                if params.server_max_window_bits.is_some() {
                    return Err("repeated server_max_window_bits");
                }
                let bits = value.ok_or("server_max_window_bits without a value")?;
                params.server_max_window_bits = Some(window_bits(bits)?);
            }
            "client_max_window_bits" => {
                if params.client_max_window_bits.is_some() {
                    return Err("repeated client_max_window_bits");
                }
                params.client_max_window_bits = Some(match (value, side) {
                    (Some(bits), _) => Some(window_bits(bits)?),
                    (None, Side::Offer) => None,
                    (None, Side::Response) => {
                        return Err("client_max_window_bits without a value");
                    }
                });
            }
            _ => return Err("unknown permessage-deflate parameter"),
        }
    }
    Ok(params)
}

fn set_flag(flag: &mut bool, value: Option<&str>) -> Result<(), &'static str> {
    if value.is_some() {
        return Err("a context takeover parameter with a value");
    }
    if *flag {
        return Err("repeated context takeover parameter");
    }
    *flag = true;
    Ok(())
}

/// §7.1.2: `1*DIGIT`, a decimal from 8 to 15 without leading zeros.
fn window_bits(value: &str) -> Result<u8, &'static str> {
    match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => {
            value.parse().map_err(|_| "invalid window bits")
        }
        _ => Err("window bits not in 8-15"),
    }
}

#[cfg(test)]
mod tests;
