//! Command-line parsing shared by the examples: `--addr HOST:PORT`, `--runtime std|smol`,
//! `--inline-callbacks`.

#![allow(dead_code)]

use ws_api::Runtime;

/// The options every example understands.
pub(crate) struct Args {
    pub(crate) addr: String,
    pub(crate) runtime: Runtime,
    /// Callbacks on the executor instead of the callback pool (smol; see
    /// `WebServerOptions::inline_callbacks`).
    pub(crate) inline_callbacks: bool,
    pub(crate) positional: Vec<String>,
}

pub(crate) fn parse(default_addr: &str, usage: &str) -> Args {
    let mut args = Args {
        addr: default_addr.to_owned(),
        runtime: Runtime::default(),
        inline_callbacks: false,
        positional: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--addr" => args.addr = it.next().unwrap_or_else(|| fail(usage)),
            "--runtime" => {
                args.runtime = match it.next().as_deref() {
                    Some("std") => Runtime::Std,
                    Some("smol") => Runtime::Smol,
                    _ => fail(usage),
                }
            }
            "--inline-callbacks" => args.inline_callbacks = true,
            "-h" | "--help" => fail(usage),
            "--serve" => args.positional.push(arg),
            other if other.starts_with("--") => fail(usage),
            other => args.positional.push(other.to_owned()),
        }
    }
    args
}

fn fail(usage: &str) -> ! {
    eprintln!("usage: {usage}");
    std::process::exit(2);
}
