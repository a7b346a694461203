//! Recording handlers and helpers for the suite.
#![allow(dead_code, unreachable_pub, unused_macros)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ws_api::*;

pub const WAIT: Duration = Duration::from_secs(20);

/// A web server on `runtime`, listening on a free port of 127.0.0.1.
pub fn local_web_server(runtime: Runtime) -> WebServer {
    WebServer::start(
        WebServerOptions::new()
            .addr("127.0.0.1:0")
            .unwrap()
            .runtime(runtime),
    )
    .unwrap()
}

/// An append-only log of what callbacks saw, with waiting.
#[derive(Default)]
pub struct Log {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Log {
    pub fn new() -> Arc<Log> {
        Arc::new(Log::default())
    }

    pub fn push(&self, line: impl Into<String>) {
        self.lines.lock().unwrap().push(line.into());
        self.changed.notify_all();
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until some line satisfies `pred`; panics after [`WAIT`].
    pub fn wait_for(&self, what: &str, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut lines = self.lines.lock().unwrap();
        while !pred(&lines) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; log: {:?}",
                *lines
            );
            lines = self.changed.wait_timeout(lines, left).unwrap().0;
        }
        lines.clone()
    }

    pub fn wait_line(&self, line: &str) -> Vec<String> {
        self.wait_for(line, |l| l.iter().any(|x| x == line))
    }

    pub fn wait_prefix(&self, prefix: &str) -> Vec<String> {
        self.wait_for(prefix, |l| l.iter().any(|x| x.starts_with(prefix)))
    }
}

pub fn describe(data: &Data) -> String {
    match data {
        Data::Text(t) => format!("text:{t}"),
        Data::Blob(b) => format!("blob:{}", String::from_utf8_lossy(b)),
        Data::Object(v) => format!("object:{v}"),
    }
}

/// A client handler that records every callback.
pub struct Recorder {
    pub log: Arc<Log>,
    pub data_type: DataType,
    pub headers: Vec<(String, String)>,
}

impl Recorder {
    pub fn new(log: &Arc<Log>) -> Self {
        Recorder {
            log: Arc::clone(log),
            data_type: DataType::Text,
            headers: Vec::new(),
        }
    }
}

impl WebSocketHandler for Recorder {
    fn on_message(&self, _ws: &WebSocket, event: MessageEvent) {
        self.log.push(format!("message {}", describe(&event.data)));
    }

    fn on_open(&self, ws: &WebSocket, _event: OpenEvent) {
        self.log.push(format!("open {}", ws.status()));
    }

    fn on_error(&self, _ws: &WebSocket, event: ErrorEvent) {
        let e = &event.errors[0];
        self.log
            .push(format!("error {} {} {}", e.code, e.component, e.message));
    }

    fn on_terminate(&self, ws: &WebSocket, event: TerminateEvent) {
        self.log.push(format!(
            "terminate {} {} {}",
            event.code,
            event.reason,
            ws.status()
        ));
    }

    fn data_type(&self) -> DataType {
        self.data_type
    }

    fn headers(&self) -> Vec<(String, String)> {
        self.headers.clone()
    }
}

/// What the test server does with each connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Echo,
    Uppercase,
    Silent,
}

/// A server handler that records every callback and accepts (or refuses) connections.
pub struct TestServer {
    pub log: Arc<Log>,
    pub refuse: Option<u16>,
    pub behaviour: Behaviour,
}

impl TestServer {
    pub fn new(log: &Arc<Log>) -> Self {
        TestServer {
            log: Arc::clone(log),
            refuse: None,
            behaviour: Behaviour::Echo,
        }
    }
}

impl WebSocketServerHandler for TestServer {
    fn on_connection(
        &self,
        _server: &WebSocketServer,
        event: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        let r = &event.request;
        self.log.push(format!(
            "connection url={} path={} room={:?} remote={} token={:?} cookie={:?}",
            r.url,
            r.path,
            r.query_value("room"),
            r.remote_address,
            r.headers.get_all("x-token").collect::<Vec<_>>(),
            r.header("cookie"),
        ));
        if let Some(status) = self.refuse {
            if status != 403 {
                event.refuse_with(status);
            }
            return None;
        }
        Some(Box::new(TestConnection {
            log: Arc::clone(&self.log),
            behaviour: self.behaviour,
        }))
    }

    fn on_open(&self, _server: &WebSocketServer, event: ServerEvent) {
        self.log.push(format!("server {}", event.event_type()));
    }

    fn on_terminate(&self, server: &WebSocketServer, event: ServerEvent) {
        self.log.push(format!(
            "server {} connections={}",
            event.event_type(),
            server.connections().len()
        ));
    }
}

pub struct TestConnection {
    pub log: Arc<Log>,
    pub behaviour: Behaviour,
}

impl ConnectionHandler for TestConnection {
    fn on_message(&self, conn: &WebSocketConnection, event: MessageEvent) {
        self.log.push(format!(
            "conn {} message {}",
            conn.id(),
            describe(&event.data)
        ));
        match (self.behaviour, event.data) {
            (Behaviour::Echo, data) => {
                let _ = conn.send(data);
            }
            (Behaviour::Uppercase, Data::Text(t)) => {
                let _ = conn.send(t.to_uppercase());
            }
            _ => {}
        }
    }

    fn on_open(&self, conn: &WebSocketConnection, _event: OpenEvent) {
        let listed = conn.wss().connections().iter().any(|c| c.id() == conn.id());
        self.log.push(format!(
            "conn {} open {} listed={listed}",
            conn.id(),
            conn.status()
        ));
    }

    fn on_error(&self, conn: &WebSocketConnection, event: ErrorEvent) {
        self.log
            .push(format!("conn {} error {}", conn.id(), event.errors[0].code));
    }

    fn on_terminate(&self, conn: &WebSocketConnection, event: TerminateEvent) {
        let listed = conn.wss().connections().iter().any(|c| c.id() == conn.id());
        self.log.push(format!(
            "conn {} terminate {} {} listed={listed}",
            conn.id(),
            event.code,
            conn.status()
        ));
    }
}

/// Lines of the log that start with `prefix`.
pub fn with_prefix(lines: &[String], prefix: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

/// A raw HTTP exchange: sends `request`, returns the whole response.
pub fn http(addr: std::net::SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A self-signed certificate for `localhost`: a server configuration with it, and a client
/// configuration that trusts it.
pub fn self_signed_tls() -> (rustls::ServerConfig, rustls::ClientConfig) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(signing_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (server, client)
}

/// Generates, for each named `fn(Runtime)` scenario of the including test file, a test on
/// each runtime compiled in: `std_runtime::<name>` and `smol_runtime::<name>`.
macro_rules! on_both_runtimes {
    ($($name:ident),+ $(,)?) => {
        #[cfg(feature = "std")]
        mod std_runtime {
            $(
                #[test]
                fn $name() {
                    super::$name(ws_api::Runtime::Std);
                }
            )+
        }

        #[cfg(feature = "smol")]
        mod smol_runtime {
            $(
                #[test]
                fn $name() {
                    super::$name(ws_api::Runtime::Smol);
                }
            )+
        }
    };
}
