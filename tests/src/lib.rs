//! Cross-crate tests and the Autobahn|Testsuite testees (`autobahn-server`, `autobahn-client`).
//!
//! Both testees take `--runtime std|smol` and `--layer adapter|api`, so one conformance script
//! covers every combination.

#![forbid(unsafe_code)]

use std::fmt;

/// Which runtime adapter a testee drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// `ws-runtime-std`: blocking threads.
    Std,
    /// `ws-runtime-smol`: async.
    Smol,
}

/// Which layer a testee uses: the adapter's own API, or the 4D-style `ws-api` handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The runtime adapter's API.
    Adapter,
    /// The `ws-api` handler API.
    Api,
}

/// Parsed command-line options of a testee.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--runtime`.
    pub runtime: Runtime,
    /// `--layer`.
    pub layer: Layer,
    /// Every other `--key value` pair, in order.
    pub rest: Vec<(String, String)>,
}

/// A command-line error, printed with the usage line.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl Options {
    /// Parses `--runtime std|smol`, `--layer adapter|api` and the `--key value` pairs named in
    /// `keys`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        keys: &[&str],
    ) -> Result<Options, UsageError> {
        let mut options = Options {
            runtime: Runtime::Std,
            layer: Layer::Adapter,
            rest: Vec::new(),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| UsageError(format!("{flag} needs a value")))?;
            match flag.as_str() {
                "--runtime" => {
                    options.runtime = match value.as_str() {
                        "std" => Runtime::Std,
                        "smol" => Runtime::Smol,
                        other => return Err(UsageError(format!("unknown runtime {other:?}"))),
                    }
                }
                "--layer" => {
                    options.layer = match value.as_str() {
                        "adapter" => Layer::Adapter,
                        "api" => Layer::Api,
                        other => return Err(UsageError(format!("unknown layer {other:?}"))),
                    }
                }
                key if keys.contains(&key.trim_start_matches("--")) && key.starts_with("--") => {
                    options
                        .rest
                        .push((key.trim_start_matches("--").to_owned(), value))
                }
                other => return Err(UsageError(format!("unknown flag {other:?}"))),
            }
        }
        Ok(options)
    }

    /// The value of `--key`, if given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.rest
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_runtime_layer_and_keys() {
        let o = Options::parse(
            args("--runtime smol --layer api --addr 1.2.3.4:5"),
            &["addr"],
        )
        .unwrap();
        assert_eq!(
            (o.runtime, o.layer, o.get("addr")),
            (Runtime::Smol, Layer::Api, Some("1.2.3.4:5"))
        );
        let o = Options::parse(args("--addr x"), &["addr"]).unwrap();
        assert_eq!((o.runtime, o.layer), (Runtime::Std, Layer::Adapter));
        assert!(Options::parse(args("--runtime tokio"), &[]).is_err());
        assert!(Options::parse(args("--url"), &["url"]).is_err());
        assert!(Options::parse(args("--bogus 1"), &["url"]).is_err());
    }
}
