//! Autobahn testee: the standard client. Reads the case count, runs every case echoing each
//! message, then asks the fuzzing server to write its reports.
//!
//! ```text
//! autobahn-client --runtime std|smol [--layer adapter|api] --url ws://HOST:PORT --agent NAME
//! ```

use ws_tests::{Layer, Options, Runtime, UsageError};

const USAGE: &str = "usage: autobahn-client --runtime std|smol [--layer adapter|api] --url ws://HOST:PORT --agent NAME";

fn main() {
    if let Err(e) = run() {
        eprintln!("autobahn-client: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse(std::env::args().skip(1), &["url", "agent"])?;
    let url = options
        .get("url")
        .ok_or_else(|| UsageError("--url is required".into()))?;
    let agent = options
        .get("agent")
        .ok_or_else(|| UsageError("--agent is required".into()))?;
    let url = url.trim_end_matches('/');
    match (options.runtime, options.layer) {
        (Runtime::Std, Layer::Adapter) => std_adapter(url, agent),
        (runtime, layer) => {
            Err(UsageError(format!("{runtime:?} with layer {layer:?} is not built yet")).into())
        }
    }
}

fn std_adapter(url: &str, agent: &str) -> Result<(), Box<dyn std::error::Error>> {
    use ws_runtime_std::{Event, connect};
    let (ws, _) = connect(&format!("{url}/getCaseCount"))?;
    let mut count = 0;
    while let Some(event) = ws.recv() {
        if let Event::Text(text) = event {
            count = text.trim().parse()?;
        }
    }
    for case in 1..=count {
        let Ok((ws, _)) = connect(&format!("{url}/runCase?case={case}&agent={agent}")) else {
            continue;
        };
        while let Some(event) = ws.recv() {
            let _ = match event {
                Event::Text(text) => ws.send_text(&text),
                Event::Binary(data) => ws.send_binary(&data),
                _ => Ok(()),
            };
        }
    }
    let (ws, _) = connect(&format!("{url}/updateReports?agent={agent}"))?;
    while ws.recv().is_some() {}
    println!("ran {count} cases");
    Ok(())
}
