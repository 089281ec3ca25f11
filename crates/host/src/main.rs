//! `ruchy-trace`: see `ruchy-trace --help`.

mod cli;
mod output;
/// Adapts the command line's call to the library's server (until the
/// command line moves to `ruchy_trace::serve` itself).
mod serve {
    use ruchy_trace::serve::{CompileRefusal, Limits, Page, Site};
    use std::sync::Arc;

    pub fn serve(
        listener: std::net::TcpListener,
        root: std::path::PathBuf,
        compile: fn(&str) -> Result<Vec<u8>, (u16, String)>,
    ) {
        let compiler = move |text: &str, _timeout| {
            compile(text).map_err(|(code, m)| match code {
                501 => CompileRefusal::NotInstalled(m),
                500 => CompileRefusal::Failed(m),
                _ => CompileRefusal::Rejected(m),
            })
        };
        let site = Site {
            page: Page::Dir(root),
            compiler: Some(Arc::new(compiler)),
            limits: Limits::default(),
        };
        if let Err(e) = ruchy_trace::serve::serve(listener, site) {
            eprintln!("ruchy-trace: error: serving stopped: {e}");
        }
    }
}

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::main() {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("ruchy-trace: error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
