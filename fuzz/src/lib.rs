//! Fuzz bodies that need more than `ws-proto` (whose own bodies live in
//! `ws-proto/src/fuzz.rs`): the HTTP side of `ws-api`'s `WebServer`.
//!
//! `cargo test --manifest-path fuzz/Cargo.toml` replays `fuzz/seeds/http_request/` and mutations
//! of it, as `cargo test -p ws-proto` does for the other targets.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use ws_api::fuzzing::{resolve_static, static_segments};
use ws_proto::Config;
use ws_proto::handshake::ServerHandshake;

/// Files a static directory built by [`StaticDir::create`] serves, by the decoded segments that
/// name them directly: every regular file in it that is not under a dot-named entry. A
/// directory's entry names its `index.html`; `link-ok` and `link-sub` are symlinks to `a.txt`
/// and `sub`.
const SERVED: &[(&str, &str)] = &[
    ("", "index.html"),
    ("index.html", "index.html"),
    ("a.txt", "a.txt"),
    ("sp ace.txt", "sp ace.txt"),
    ("100%.txt", "100%.txt"),
    ("\u{fc}.txt", "\u{fc}.txt"),
    ("sub", "sub/index.html"),
    ("sub/index.html", "sub/index.html"),
    ("sub/b.txt", "sub/b.txt"),
    ("link-ok", "a.txt"),
    ("link-sub", "sub/index.html"),
    ("link-sub/index.html", "sub/index.html"),
    ("link-sub/b.txt", "sub/b.txt"),
];

/// The static directory every input is resolved in, created once per process.
struct StaticDir {
    /// Canonical.
    root: PathBuf,
    /// The canonical paths of the files in [`SERVED`].
    served: Vec<PathBuf>,
    /// Whether the file system tells `a.txt` from `A.TXT`: only then is every spelling other
    /// than those in [`SERVED`] known to name no file.
    case_sensitive: bool,
}

impl StaticDir {
    fn get() -> &'static StaticDir {
        static DIR: OnceLock<StaticDir> = OnceLock::new();
        DIR.get_or_init(StaticDir::create)
    }

    /// Builds, in the temporary directory, `ws-fuzz-static-<pid>/` holding `outside.txt` and
    /// the static directory `root/`: the files of [`SERVED`], dotfiles and dot-named
    /// directories, a directory without an index, and symlinks that stay inside, lead out,
    /// lead to dot-named entries, or loop. Directories of earlier processes that are gone are
    /// removed first (on Linux).
    fn create() -> StaticDir {
        let parent = std::env::temp_dir();
        remove_stale(&parent);
        let base = parent.join(format!("ws-fuzz-static-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a directory");
            std::fs::write(path, text).expect("write a file");
        };
        for (_, file) in SERVED {
            write(file, file);
        }
        for hidden in [".secret", ".git/config", "sub/.hidden", ".dir/page.txt"] {
            write(hidden, "hidden");
        }
        std::fs::create_dir_all(root.join("empty-dir")).expect("create a directory");
        std::fs::write(base.join("outside.txt"), "outside").expect("write a file");
        #[cfg(unix)]
        for (link, to) in [
            ("link-ok", "a.txt"),
            ("link-sub", "sub"),
            ("link-secret", ".secret"),
            ("link-dot-dir", ".git"),
            ("sub/link-hidden", ".hidden"),
            ("link-out", "../outside.txt"),
            ("link-up", ".."),
            ("link-root", "/"),
            ("link-loop", "link-loop"),
        ] {
            std::os::unix::fs::symlink(to, root.join(link)).expect("create a symlink");
        }
        let root = root.canonicalize().expect("the static directory");
        let served = SERVED
            .iter()
            .map(|(_, file)| root.join(file).canonicalize().expect("a served file"))
            .collect();
        let case_sensitive = !root.join("A.TXT").exists();
        StaticDir {
            root,
            served,
            case_sensitive,
        }
    }
}

/// Removes the directories [`StaticDir::create`] left in `parent` for processes that ended.
fn remove_stale(parent: &Path) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ws-fuzz-static-"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Feeds arbitrary bytes to a [`ServerHandshake`] as one request, the way a `WebServer` reads
/// one. For a request it parses, whatever its method, resolves the path the `WebServer` looks
/// up (and the raw request-target too) in a small static directory ([`StaticDir`]).
///
/// Oracles: a resolved file is a regular file, canonical, inside the canonical directory and
/// under no dot-named entry (no dotfile, nothing a symlink reaches outside or behind a dot),
/// and is one of the files the directory serves ([`SERVED`]); a target the resolver serves has
/// decoded segments, none empty, dot-named or holding `/`, `\` or NUL; a target whose segments
/// name a served file directly (no trailing `/`) is served that file, and, on a case-sensitive
/// file system, any other target is served nothing.
pub fn http_request(data: &[u8]) {
    let now = Instant::now();
    let config = Config::default();
    let mut handshake = ServerHandshake::new(&config, now);
    let Ok(Some(request)) = handshake.receive(now, data) else {
        return;
    };
    let request = request.clone();
    let dir = StaticDir::get();
    check_target(dir, request.path());
    check_target(dir, request.target());
}

fn check_target(dir: &StaticDir, target: &str) {
    let resolved = resolve_static(&dir.root, target);
    let segments = static_segments(target);
    if let Some(segments) = &segments {
        for segment in segments {
            assert!(
                !segment.is_empty()
                    && !segment.starts_with('.')
                    && !segment.contains(['/', '\\', '\0']),
                "{target:?}: segment {segment:?}"
            );
        }
    }
    if let Some(file) = &resolved {
        assert!(segments.is_some(), "{target:?}: served without segments");
        check_served(dir, target, file);
    }
    // Which file the segments name, if they name one of the served files directly.
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let trailing_slash = path.len() > 1 && path.ends_with('/');
    let Some(segments) = segments.filter(|_| !trailing_slash) else {
        return;
    };
    let joined = segments.join("/");
    match SERVED.iter().position(|(name, _)| *name == joined) {
        Some(i) => assert_eq!(
            resolved.as_ref(),
            Some(&dir.served[i]),
            "{target:?} names {:?}",
            SERVED[i].1
        ),
        None if dir.case_sensitive => {
            assert_eq!(resolved, None, "{target:?} names no file that is served");
        }
        None => {}
    }
}

fn check_served(dir: &StaticDir, target: &str, file: &Path) {
    let inside = file.strip_prefix(&dir.root).unwrap_or_else(|_| {
        panic!(
            "{target:?} resolves to {} outside {}",
            file.display(),
            dir.root.display()
        )
    });
    let plain = inside.components().all(
        |c| matches!(c, Component::Normal(name) if !name.as_encoded_bytes().starts_with(b".")),
    );
    assert!(
        plain,
        "{target:?} resolves to {}: a dot-named entry or not a plain path",
        file.display()
    );
    assert_eq!(
        file.canonicalize().ok().as_deref(),
        Some(file),
        "{target:?} resolves to a path that is not canonical"
    );
    assert!(
        file.is_file(),
        "{target:?} resolves to {}, not a regular file",
        file.display()
    );
    assert!(
        dir.served.iter().any(|served| served == file),
        "{target:?} resolves to {}, which is not served",
        file.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_request_seeds() {
        ws_proto::fuzz::replay_seeds("http_request", http_request);
    }

    /// The seeds, each with up to five bytes replaced, inserted or removed.
    #[test]
    fn http_request_mutated_seeds() {
        let seeds = ws_proto::fuzz::seed_corpus("http_request");
        let mut state = 0x5eed_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        const BYTES: &[u8] = b"/.%2e5cfF0\\?#\x00 \r\nabsu";
        for n in 0..3000 {
            let mut data = seeds[n % seeds.len()].1.clone();
            for _ in 0..=next(5) {
                if data.is_empty() {
                    break;
                }
                let at = next(data.len());
                let byte = BYTES[next(BYTES.len())];
                match next(3) {
                    0 => data[at] = byte,
                    1 => data.insert(at, byte),
                    _ => {
                        data.remove(at);
                    }
                }
            }
            let result = std::panic::catch_unwind(|| http_request(&data));
            assert!(
                result.is_ok(),
                "http_request: mutated input #{n} failed: {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }

    #[test]
    fn the_static_directory_serves_what_it_should() {
        let dir = StaticDir::get();
        let served = |target: &str| resolve_static(&dir.root, target);
        assert_eq!(served("/"), Some(dir.root.join("index.html")));
        assert_eq!(served("/sp%20ace.txt"), Some(dir.root.join("sp ace.txt")));
        assert_eq!(served("/100%25.txt"), Some(dir.root.join("100%.txt")));
        assert_eq!(served("/%C3%BC.txt"), Some(dir.root.join("\u{fc}.txt")));
        assert_eq!(served("/link-sub/b.txt"), Some(dir.root.join("sub/b.txt")));
        for refused in [
            "/.secret",
            "/.git/config",
            "/sub/.hidden",
            "/empty-dir/",
            "/%2e%2e/outside.txt",
            "/link-secret",
            "/link-dot-dir/config",
            "/sub/link-hidden",
            "/link-out",
            "/link-up/outside.txt",
            "/link-root/etc/passwd",
            "/link-loop",
        ] {
            assert_eq!(served(refused), None, "{refused}");
        }
    }
}
