//! `ruchy-trace serve`: the playground's Trace tab on 127.0.0.1.

use super::exit::{self, Failure};
use super::flags::parse_duration;
use clap::Args;
use ruchy_trace::serve::{Limits, Page, Site};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `serve`'s flags.
#[derive(Args, Debug)]
pub struct Opts {
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Serve this folder (read at each request) instead of the page built
    /// into the binary: for working on www/.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Stop a compile (ruchy and rustc) that runs longer than this; the
    /// page gets 504.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    compile_timeout: Duration,
}

impl Opts {
    /// Serves until the process is stopped.
    pub fn run(self) -> Result<ExitCode, Failure> {
        let page = match &self.dir {
            Some(dir) => Page::Dir(dir.clone()),
            None => Page::Embedded,
        };
        page.check().map_err(|m| Failure::new(exit::NO_INPUT, m))?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).map_err(|e| {
            Failure::new(
                exit::IO,
                format!("cannot listen on 127.0.0.1:{}: {e}", self.port),
            )
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(exit::IO, e.to_string()))?;
        match &self.dir {
            Some(dir) => println!("serving {} on http://{addr}/", dir.display()),
            None => println!("serving the Trace tab on http://{addr}/"),
        }
        let _ = std::io::stdout().flush();
        let site = Site {
            page,
            compile: true,
            limits: Limits {
                compile_timeout: self.compile_timeout,
                ..Limits::default()
            },
        };
        ruchy_trace::serve::serve(listener, site)
            .map_err(|e| Failure::new(exit::IO, format!("serving stopped: {e}")))?;
        Ok(ExitCode::SUCCESS)
    }
}
