//! The ws-api guarantees, checked with real sockets on loopback. The same suite runs on both
//! runtimes: `suite.rs` is included once per runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[cfg(feature = "std")]
mod std_runtime {
    const RUNTIME: ws_api::Runtime = ws_api::Runtime::Std;
    include!("support/suite.rs");
}

#[cfg(feature = "smol")]
mod smol_runtime {
    const RUNTIME: ws_api::Runtime = ws_api::Runtime::Smol;
    include!("support/suite.rs");
}
