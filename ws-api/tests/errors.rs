//! What ws-api's errors say: a failure names what failed (the address that could not be bound,
//! the address a client could not reach, the path already served) and keeps its typed cause. Every scenario touching a
//! runtime is a `fn(Runtime)` run once per runtime by `on_both_runtimes!`.

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::error::Error as _;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;

use support::*;
use ws_api::*;

on_both_runtimes!(
    a_web_server_on_a_used_port_names_the_address,
    a_second_server_on_a_served_path_is_refused_naming_the_path,
);

/// Refuses every connection: these tests never get that far.
struct Refuse;

impl WebSocketServerHandler for Refuse {
    fn on_connection(
        &self,
        _: &WebSocketServer,
        _: &ConnectionEvent,
    ) -> Option<Box<dyn ConnectionHandler>> {
        None
    }
}

fn a_web_server_on_a_used_port_names_the_address(runtime: Runtime) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let options = WebServerOptions::new().addr(addr).unwrap().runtime(runtime);
    let error = WebServer::start(options).expect_err("the port is taken");
    let Error::Bind(bind) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(bind.addr(), addr);
    assert_eq!(bind.kind(), io::ErrorKind::AddrInUse);
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {addr}: ")),
        "{message}"
    );
    let source = error.source().and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(source.map(io::Error::kind), Some(io::ErrorKind::AddrInUse));

    // A WebSocket server that starts its own web server says the same.
    let error = WebSocketServer::listen(addr, Refuse, ServerOptions::new()).expect_err("taken");
    assert!(
        matches!(&error, Error::Bind(b) if b.addr() == addr),
        "{error:?}"
    );
}

/// The runtimes' own listeners, which ws-api users may also use directly, name the address
/// too, in an `io::Error` of the system error's kind.
#[test]
fn the_runtimes_listeners_name_a_used_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let expected = format!("cannot listen on {addr}: ");
    let mut errors = Vec::new();
    #[cfg(feature = "std")]
    errors.push(ws_runtime_std::Server::bind(addr).map(drop));
    #[cfg(feature = "smol")]
    errors.push(smol::block_on(ws_runtime_smol::Server::bind(addr)).map(drop));
    for error in errors {
        let error = error.expect_err("the port is taken");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert!(error.to_string().starts_with(&expected), "{error}");
        let bind = error.get_ref().and_then(|e| e.downcast_ref::<BindError>());
        assert_eq!(bind.map(BindError::addr), Some(addr));
    }
}

fn a_second_server_on_a_served_path_is_refused_naming_the_path(runtime: Runtime) {
    let web = local_web_server(runtime);
    let on = |log: &Arc<Log>, path: Option<&str>| {
        let options = ServerOptions::new().web_server(&web);
        let options = match path {
            Some(path) => options.path(path),
            None => options,
        };
        WebSocketServer::new(TestServer::new(log), options)
    };
    let (first_log, second_log) = (Log::new(), Log::new());
    let first = on(&first_log, Some("/chat")).unwrap();
    let error = on(&second_log, Some("/chat")).expect_err("/chat is served");
    assert!(
        matches!(&error, Error::PathInUse(Some(path)) if path == "/chat"),
        "{error:?}"
    );
    assert!(error.to_string().contains("/chat"), "{error}");
    assert!(
        second_log.lines().is_empty(),
        "a refused server never starts: {:?}",
        second_log.lines()
    );

    // One server without a path, too; other paths are free.
    let _every = on(&Log::new(), None).unwrap();
    let error = on(&Log::new(), None).expect_err("a server without a path runs");
    assert!(matches!(error, Error::PathInUse(None)), "{error:?}");
    let _other = on(&Log::new(), Some("/other")).unwrap();

    // The first server still answers its path.
    let client_log = Log::new();
    let ws =
        WebSocket::with_runtime(&web.ws_url("/chat"), Recorder::new(&client_log), runtime).unwrap();
    assert!(ws.wait_open(WAIT));
    first_log.wait_prefix("connection url=/chat");
    assert!(second_log.lines().is_empty());

    // Once it is terminated, the path is free again.
    first.terminate(None);
    assert!(first.wait_terminated(WAIT));
    let _again = on(&second_log, Some("/chat")).unwrap();
    second_log.wait_line("server open");
}
