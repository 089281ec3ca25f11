//! `ruchy-trace serve`: the playground's Trace tab on 127.0.0.1.

use super::exit::{self, Failure};
use clap::Args;
use ruchy_trace::compile::{self, CompileError};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `serve`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The page's directory.
    #[arg(long, default_value = "www")]
    dir: PathBuf,
}

impl Opts {
    /// Serves until the process is stopped.
    pub fn run(self) -> Result<ExitCode, Failure> {
        if !self.dir.join("index.html").exists() {
            return Err(Failure::new(
                exit::NO_INPUT,
                format!(
                    "{} has no index.html: serve the repository's www/ (--dir)",
                    self.dir.display()
                ),
            ));
        }
        if !self.dir.join("pkg").exists() {
            eprintln!(
                "ruchy-trace: note: {}/pkg is missing: build the page with www/build.sh",
                self.dir.display()
            );
        }
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).map_err(|e| {
            Failure::new(
                exit::IO,
                format!("cannot listen on 127.0.0.1:{}: {e}", self.port),
            )
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(exit::IO, e.to_string()))?;
        println!("serving {} on http://{addr}/", self.dir.display());
        let _ = std::io::stdout().flush();
        crate::serve::serve(listener, self.dir, compile_source);
        Ok(ExitCode::SUCCESS)
    }
}

/// The compile endpoint: a Ruchy program's text to wasm, or the HTTP status
/// and message saying why not.
fn compile_source(text: &str) -> Result<Vec<u8>, (u16, String)> {
    compile::compile_text(text).map_err(|e| {
        let status = match &e {
            CompileError::NotInstalled(_) => 501,
            CompileError::Transpile { .. } | CompileError::Rustc { .. } => 422,
            CompileError::Spawn { .. } | CompileError::Io { .. } => 500,
        };
        (status, exit::chain(&e))
    })
}
