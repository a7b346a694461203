//! The static directory of a [`WebServer`](crate::WebServer): which file a request names, and
//! the response that sends it.
//!
//! # Which file
//!
//! [`resolve`] maps a request-target to a file inside the directory, or refuses it:
//!
//! * the query and fragment are dropped, then each `/`-separated segment is percent-decoded
//!   (`/a%20b.txt` is `a b.txt`); a bad escape, an encoded `/`, `\` or NUL, or a segment that
//!   is not UTF-8 make the request malformed (400);
//! * a segment that is empty (`//etc/passwd`, `/a//b`), starts with `.` (`.`, `..`, `%2e%2e`,
//!   dotfiles such as `.secret` or `.git`), contains a backslash, or is not one plain path
//!   component on this platform is refused, as is a file that, symlinks followed, lies outside
//!   the directory or under a dot-named entry inside it: refused requests are answered like
//!   missing files (404), so they do not reveal what exists;
//! * a directory serves its `index.html`; only regular files are served.
//!
//! # Responses
//!
//! A file is never read whole. Its `Content-Length` is the size of the opened file and its body
//! is streamed by the runtime in chunks of 64 KiB as the client reads them, so memory per
//! response stays about one chunk whatever the size of the file: there is no size cap. Reading
//! the request head is bound by [`Config::handshake_timeout`](crate::Config); the body is bound
//! by progress instead: a response fails when no byte could be written for that long, so a slow
//! but steady reader gets all of it. `HEAD` gets the same head, without the body. Every response
//! carries `X-Content-Type-Options: nosniff`; the content type comes from the extension.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use crate::runtime::Streamed;

/// Why a request-target names no file to serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StaticError {
    /// Not a well-formed path: no leading `/`, a bad percent escape, an encoded `/`, `\` or
    /// NUL, or a segment that is not UTF-8. Answered with 400.
    Malformed,
    /// Refused by rule: an empty, `.`, `..` or dot-named segment, a backslash, a segment that
    /// is not one plain path component, or a file outside the directory once symlinks are
    /// followed. Answered like a missing file.
    Refused,
    /// No such file (or not a regular file, or not readable).
    NotFound,
}

/// The decoded segments of `target`'s path, checked by the rules of [`resolve`] that need no
/// file system. `/` and a trailing `/` add no segment.
pub(crate) fn segments(target: &str) -> Result<Vec<String>, StaticError> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let Some(rest) = path.strip_prefix('/') else {
        return Err(StaticError::Malformed);
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    // A trailing `/` names a directory: its index.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.split('/').map(segment).collect()
}

/// One segment, decoded and checked.
fn segment(raw: &str) -> Result<String, StaticError> {
    if raw.contains('\\') {
        return Err(StaticError::Refused);
    }
    let bytes = percent_decode(raw)?;
    if bytes.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
        return Err(StaticError::Malformed);
    }
    let segment = String::from_utf8(bytes).map_err(|_| StaticError::Malformed)?;
    // Empty, `.`, `..` and every dotfile.
    if segment.is_empty() || segment.starts_with('.') {
        return Err(StaticError::Refused);
    }
    // Exactly one normal component here (no drive prefix or root on Windows, for instance).
    let mut components = Path::new(&segment).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(name)), None) if name == segment.as_str() => Ok(segment),
        _ => Err(StaticError::Refused),
    }
}

/// `%XX` escapes decoded; anything else kept as it is (`+` stays `+` in a path).
fn percent_decode(raw: &str) -> Result<Vec<u8>, StaticError> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(StaticError::Malformed);
            };
            // Two hex digits: at most 0xff.
            out.push(u8::try_from(hi * 16 + lo).map_err(|_| StaticError::Malformed)?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

/// The file `target` names inside `static_dir`, canonical (symlinks resolved): see the module
/// documentation for the rules.
pub(crate) fn resolve(static_dir: &Path, target: &str) -> Result<PathBuf, StaticError> {
    let segments = segments(target)?;
    let root = static_dir
        .canonicalize()
        .map_err(|_| StaticError::NotFound)?;
    let mut path = root.clone();
    path.extend(&segments);
    let mut file = inside(&root, &path)?;
    if file.is_dir() {
        file = inside(&root, &file.join("index.html"))?;
    }
    if !file.is_file() {
        return Err(StaticError::NotFound);
    }
    Ok(file)
}

/// `path` with symlinks resolved, if that is still inside `root` (itself canonical) and not
/// under a dot-named entry there (a link `public.txt -> .secret` is refused like `.secret`).
fn inside(root: &Path, path: &Path) -> Result<PathBuf, StaticError> {
    let real = path.canonicalize().map_err(|_| StaticError::NotFound)?;
    let rest = real.strip_prefix(root).map_err(|_| StaticError::Refused)?;
    let plain = rest.components().all(
        |c| matches!(c, Component::Normal(name) if !name.as_encoded_bytes().starts_with(b".")),
    );
    if !plain {
        return Err(StaticError::Refused);
    }
    Ok(real)
}

/// The response for the file at `path` (as [`resolve`] returned it): its head, and the opened
/// file to stream. `None` if it cannot be opened or is no longer a regular file.
pub(crate) fn file_response(path: &Path) -> Option<Streamed> {
    let file = File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    if !metadata.is_file() {
        return None;
    }
    let len = metadata.len();
    Some(Streamed {
        status: 200,
        head: head(200, "OK", content_type(path), len),
        body: Some((file, len)),
    })
}

/// The head of a response written here: all its values are this module's own, so none needs
/// escaping.
fn head(status: u16, reason: &str, content_type: &str, len: u64) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: {content_type}\r\n\
         {NOSNIFF}: nosniff\r\n\
         Content-Length: {len}\r\n\
         Connection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The header that keeps browsers from guessing a content type other than the one sent.
pub(crate) const NOSNIFF: &str = "X-Content-Type-Options";

/// The content type of a file, from its extension.
pub(crate) fn content_type(file: &Path) -> &'static str {
    match file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
    {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::StaticError::{Malformed, NotFound, Refused};
    use super::*;

    #[test]
    fn segments_are_decoded_and_checked() {
        let ok = |t: &str, want: &[&str]| {
            assert_eq!(
                segments(t),
                Ok(want.iter().map(|s| s.to_string()).collect()),
                "{t}"
            );
        };
        ok("/", &[]);
        ok("/index.html", &["index.html"]);
        ok("/a%20b.txt", &["a b.txt"]);
        ok("/a+b.txt", &["a+b.txt"]);
        ok("/dir/", &["dir"]);
        ok("/dir/file.js?v=1#top", &["dir", "file.js"]);
        ok("/x?../../etc/passwd", &["x"]);
        ok("/caf%C3%A9.txt", &["café.txt"]);
        ok("/%41%62c", &["Abc"]);
        ok("/a.b.c", &["a.b.c"]);
        ok("/a..b", &["a..b"]);
        ok("/a%25b", &["a%b"]);

        let err = |t: &str, want: StaticError| assert_eq!(segments(t), Err(want), "{t}");
        let table = [
            // Traversal, however spelled.
            ("/..", Refused),
            ("/../etc/passwd", Refused),
            ("/a/../../etc/passwd", Refused),
            ("/%2e%2e/etc/passwd", Refused),
            ("/%2E%2E/etc/passwd", Refused),
            ("/.%2e/x", Refused),
            ("/./index.html", Refused),
            ("/%2e/index.html", Refused),
            ("/..\\etc\\passwd", Refused),
            ("/a\\b", Refused),
            // Empty segments: a second root, or a doubled slash.
            ("//etc/passwd", Refused),
            ("/a//b", Refused),
            ("//", Refused),
            // Dotfiles and dot directories.
            ("/.secret", Refused),
            ("/%2esecret", Refused),
            ("/.git/config", Refused),
            ("/dir/.htaccess", Refused),
            // Encoded separators, NUL, bad escapes, invalid UTF-8.
            ("/a%2fb", Malformed),
            ("/a%2Fb", Malformed),
            ("/%2fetc%2fpasswd", Malformed),
            ("/a%5cb", Malformed),
            ("/..%5c..%5cx", Malformed),
            ("/a%00.txt", Malformed),
            ("/a%", Malformed),
            ("/a%2", Malformed),
            ("/a%zz", Malformed),
            ("/a%+1", Malformed),
            ("/%ff%fe", Malformed),
            ("/%C3", Malformed),
            // Not an origin-form path.
            ("", Malformed),
            ("index.html", Malformed),
            ("*", Malformed),
            ("?x", Malformed),
        ];
        for (target, want) in table {
            err(target, want);
        }
    }

    /// A scratch directory with a static root inside, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("ws-api-resolve-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("root/sub")).unwrap();
            Scratch(dir)
        }

        fn root(&self) -> PathBuf {
            self.0.join("root")
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn resolve_maps_into_the_directory_only() {
        let scratch = Scratch::new("table");
        let root = scratch.root();
        std::fs::write(root.join("index.html"), "index").unwrap();
        std::fs::write(root.join("a b.txt"), "space").unwrap();
        std::fs::write(root.join(".secret"), "dot").unwrap();
        std::fs::write(root.join("sub/index.html"), "sub index").unwrap();
        std::fs::write(root.join("sub/page.css"), "css").unwrap();
        std::fs::create_dir_all(root.join("noindex")).unwrap();
        std::fs::write(scratch.0.join("outside.txt"), "outside").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("../outside.txt", root.join("escape.txt")).unwrap();
            symlink("..", root.join("up")).unwrap();
            symlink("sub/page.css", root.join("inner.css")).unwrap();
            symlink(".secret", root.join("public.txt")).unwrap();
            symlink("/etc", root.join("etc")).unwrap();
        }
        let real = root.canonicalize().unwrap();

        let ok = |target: &str, want: &str| {
            assert_eq!(resolve(&root, target), Ok(real.join(want)), "{target}");
        };
        ok("/", "index.html");
        ok("/index.html", "index.html");
        ok("/a%20b.txt", "a b.txt");
        ok("/sub", "sub/index.html");
        ok("/sub/", "sub/index.html");
        ok("/sub/page.css?x=1", "sub/page.css");

        let err = |target: &str, want: StaticError| {
            assert_eq!(resolve(&root, target), Err(want), "{target}");
        };
        err("/missing.txt", NotFound);
        err("/noindex", NotFound);
        err("/noindex/", NotFound);
        err("/sub/missing/", NotFound);
        err("/.secret", Refused);
        err("/../outside.txt", Refused);
        err("/%2e%2e/outside.txt", Refused);
        err("//etc/passwd", Refused);
        err("/..\\outside.txt", Refused);
        err("/a%2fb", Malformed);
        // A missing directory serves nothing.
        assert_eq!(resolve(&scratch.0.join("nope"), "/"), Err(NotFound));
        #[cfg(unix)]
        {
            ok("/inner.css", "sub/page.css");
            err("/escape.txt", Refused);
            err("/up/outside.txt", Refused);
            // Out and back in: what counts is where the file is.
            ok("/up/root/index.html", "index.html");
            err("/etc/passwd", Refused);
            err("/public.txt", Refused);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_static_dir_reached_through_a_symlink_still_serves() {
        let scratch = Scratch::new("linked");
        std::fs::write(scratch.root().join("index.html"), "index").unwrap();
        let link = scratch.0.join("link");
        std::os::unix::fs::symlink("root", &link).unwrap();
        let real = scratch.root().canonicalize().unwrap();
        assert_eq!(resolve(&link, "/"), Ok(real.join("index.html")));
        // A link escaping to a sibling of the real root is still refused.
        std::fs::write(scratch.0.join("sibling.txt"), "x").unwrap();
        std::os::unix::fs::symlink("../sibling.txt", scratch.root().join("s.txt")).unwrap();
        assert_eq!(resolve(&link, "/s.txt"), Err(Refused));
    }

    #[test]
    fn a_file_response_has_its_size_type_and_nosniff() {
        let scratch = Scratch::new("response");
        let file = scratch.root().join("page.html");
        std::fs::write(&file, "<p>hello</p>").unwrap();
        let response = file_response(&file).unwrap();
        let head = String::from_utf8(response.head).unwrap();
        assert_eq!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(response.body.map(|(_, len)| len), Some(12));
        assert!(file_response(&scratch.root()).is_none());
        assert!(file_response(&scratch.root().join("missing")).is_none());
    }

    #[test]
    fn content_types_by_extension() {
        for (name, want) in [
            ("a.html", "text/html; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.png", "image/png"),
            ("a.txt", "text/plain; charset=utf-8"),
            ("a", "application/octet-stream"),
            ("a.bin", "application/octet-stream"),
        ] {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }
}
