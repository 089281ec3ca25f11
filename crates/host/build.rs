//! Embeds the Trace tab (`page/`, refreshed from `www/` by
//! `scripts/embed-page.sh`) in the library, so `ruchy-trace serve` needs no
//! files beside the binary: every file under `page/` becomes one entry of a
//! table of `(path, include_bytes!(…))`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let page = manifest.join("page");
    // A directory here makes cargo rerun the script when any file under it
    // changes; the files' contents are tracked by include_bytes! itself.
    println!("cargo:rerun-if-changed=page");
    let mut files = Vec::new();
    if page.is_dir() {
        walk(&page, &page, &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for (rel, abs) in &files {
        writeln!(table, "    ({rel:?}, include_bytes!({abs:?})),").expect("write to a String");
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it")).join("page.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

/// Every file under `dir` (following links, skipping dot files) as its path
/// relative to `root` with `/` separators, and its absolute path.
fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files);
        } else if path.is_file() {
            let rel = path.strip_prefix(root).expect("under root");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            files.push((rel.join("/"), path.to_string_lossy().into_owned()));
        } else {
            panic!(
                "{} is neither a file nor a folder (a broken link?)",
                path.display()
            );
        }
    }
}
