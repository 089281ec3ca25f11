//! Where the served files come from: the page built into the binary, or a
//! folder on disk (for working on the page without rebuilding).

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

/// The Trace tab's files built into this library: `(path, bytes)`, sorted by
/// path, from the crate's `page/` folder.
static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/page.rs"));

/// The files `serve` answers GET requests from.
#[derive(Debug, Clone)]
pub enum Page {
    /// The page built into the binary.
    Embedded,
    /// A folder on disk, read at each request.
    Dir(PathBuf),
}

impl Page {
    /// The embedded page's files, `(path, bytes)`, sorted by path.
    pub fn embedded_files() -> &'static [(&'static str, &'static [u8])] {
        EMBEDDED
    }

    /// Checks that the page has its `index.html`, with a message saying
    /// what to do when it has not.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Page::Embedded if lookup_embedded("index.html").is_some() => Ok(()),
            Page::Embedded => Err(
                "this build carries no page (crates/host/page is empty): run scripts/embed-page.sh, or serve a folder with --dir".into(),
            ),
            Page::Dir(dir) if dir.join("index.html").is_file() => Ok(()),
            Page::Dir(dir) => Err(format!("{} has no index.html", dir.display())),
        }
    }

    /// The bytes and content type of the file a request path names, or
    /// `None` when there is no such file or the path tries to leave the
    /// page (`..`, absolute parts). `/` and folders mean their `index.html`.
    pub fn file(&self, url_path: &str) -> Option<(Cow<'static, [u8]>, &'static str)> {
        let rel = relative(url_path)?;
        match self {
            Page::Embedded => {
                let name = if rel.is_empty() || lookup_embedded(&rel).is_none() {
                    let dir = rel.trim_end_matches('/');
                    if dir.is_empty() {
                        "index.html".to_string()
                    } else {
                        format!("{dir}/index.html")
                    }
                } else {
                    rel
                };
                let bytes = lookup_embedded(&name)?;
                Some((Cow::Borrowed(bytes), content_type(&name)))
            }
            Page::Dir(root) => {
                let mut path = root.join(&rel);
                if path.is_dir() {
                    path = path.join("index.html");
                }
                let bytes = std::fs::read(&path).ok()?;
                Some((Cow::Owned(bytes), content_type(&path.to_string_lossy())))
            }
        }
    }
}

fn lookup_embedded(name: &str) -> Option<&'static [u8]> {
    EMBEDDED
        .binary_search_by(|(path, _)| (*path).cmp(name))
        .ok()
        .map(|i| EMBEDDED[i].1)
}

/// The request path without its query, leading `/` and any way out.
fn relative(url_path: &str) -> Option<String> {
    let path = url_path.split(['?', '#']).next().unwrap_or("");
    let rel = path.trim_start_matches('/');
    let clean = Path::new(rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    (clean && !rel.contains('\\')).then(|| rel.to_string())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ruchy" | "rs" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_page_name_no_file() {
        assert_eq!(relative("/../etc/passwd"), None);
        assert_eq!(relative("/a/../../b"), None);
        assert_eq!(relative("/a\\..\\b"), None);
        assert_eq!(relative("/pkg/x.js?v=1").as_deref(), Some("pkg/x.js"));
        assert_eq!(relative("/").as_deref(), Some(""));
    }
}
