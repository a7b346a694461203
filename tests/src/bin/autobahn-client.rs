//! Autobahn testee: the standard client. Reads the case count, runs every case echoing each
//! message, then asks the fuzzing server to write its reports.
//!
//! ```text
//! autobahn-client --runtime std|smol [--layer adapter|api] --url ws://HOST:PORT --agent NAME
//! ```

use ws_tests::{Layer, Options, Runtime, UsageError};

const USAGE: &str = "usage: autobahn-client --runtime std|smol [--layer adapter|api] \
                     --url ws://HOST:PORT --agent NAME";

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
    let count = match (options.runtime, options.layer) {
        (Runtime::Std, Layer::Adapter) => std_adapter(url, agent)?,
        (Runtime::Smol, Layer::Adapter) => smol::block_on(smol_adapter(url, agent))?,
        (Runtime::Std, Layer::Api) => api(url, agent, ws_api::Runtime::Std)?,
        (Runtime::Smol, Layer::Api) => api(url, agent, ws_api::Runtime::Smol)?,
    };
    println!("ran {count} cases");
    Ok(())
}

fn std_adapter(url: &str, agent: &str) -> Result<u32, Box<dyn std::error::Error>> {
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
                Event::Text(text) => ws.send_text_shared(&text),
                Event::Binary(data) => ws.send_binary_shared(&data),
                _ => Ok(()),
            };
        }
    }
    let (ws, _) = connect(&format!("{url}/updateReports?agent={agent}"))?;
    while ws.recv().is_some() {}
    Ok(count)
}

async fn smol_adapter(url: &str, agent: &str) -> Result<u32, Box<dyn std::error::Error>> {
    use ws_runtime_smol::{Event, connect};
    let (ws, _) = connect(&format!("{url}/getCaseCount")).await?;
    let mut count = 0;
    while let Some(event) = ws.recv().await {
        if let Event::Text(text) = event {
            count = text.trim().parse()?;
        }
    }
    for case in 1..=count {
        let Ok((ws, _)) = connect(&format!("{url}/runCase?case={case}&agent={agent}")).await else {
            continue;
        };
        while let Some(event) = ws.recv().await {
            let _ = match event {
                Event::Text(text) => ws.send_text_shared(&text).await,
                Event::Binary(data) => ws.send_binary_shared(&data).await,
                _ => Ok(()),
            };
        }
    }
    let (ws, _) = connect(&format!("{url}/updateReports?agent={agent}")).await?;
    while ws.recv().await.is_some() {}
    Ok(count)
}

/// The client written against ws-api's 4D-style handlers.
fn api(
    url: &str,
    agent: &str,
    runtime: ws_api::Runtime,
) -> Result<u32, Box<dyn std::error::Error>> {
    use std::sync::Mutex;
    use std::time::Duration;
    use ws_api::*;

    /// Echoes every message; remembers the last text (the case count).
    struct Echo {
        last_text: Mutex<Option<String>>,
    }
    impl WebSocketHandler for Echo {
        fn on_message(&self, ws: &WebSocket, event: MessageEvent) {
            if let Data::Text(text) = &event.data {
                *self.last_text.lock().unwrap_or_else(|p| p.into_inner()) = Some(text.clone());
            }
            let _ = ws.send(event.data);
        }
    }

    let run = |url: String| -> Result<Option<String>, Box<dyn std::error::Error>> {
        let ws = WebSocket::with_runtime(
            &url,
            Echo {
                last_text: Mutex::new(None),
            },
            runtime,
        )?;
        if !ws.wait_closed(Duration::from_secs(300)) {
            return Err(format!("{url} did not finish").into());
        }
        let echo = ws.handler_as::<Echo>().ok_or("handler type")?;
        let last = echo
            .last_text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(last)
    };
    let count = run(format!("{url}/getCaseCount"))?
        .ok_or("no case count")?
        .trim()
        .parse()?;
    for case in 1..=count {
        run(format!("{url}/runCase?case={case}&agent={agent}"))?;
    }
    run(format!("{url}/updateReports?agent={agent}"))?;
    Ok(count)
}
