//! Same-origin requests only: the server listens on the loopback interface,
//! but any page the user visits can make the browser send requests there (a
//! cross-site form post) or resolve its own name to 127.0.0.1 (DNS
//! rebinding). Both are told apart by the `Host` and `Origin` headers.

use hyper::header::{HeaderMap, HOST, ORIGIN};

/// The names under which this server is its own origin, on `port`.
const LOOPBACK_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// Why a request is refused, for the 403 body.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Host`, or a name or port other than this server's.
    Host,
    /// An `Origin` other than this server's (`null` included).
    Origin,
}

impl Refusal {
    /// One line for the response body.
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Host => "refused: the Host header does not name this server (127.0.0.1 or localhost and its port)",
            Refusal::Origin => "refused: the request comes from another origin",
        }
    }
}

/// Accepts a request whose `Host` is this server's loopback address and
/// `port`, and whose `Origin`, when present, is this server.
pub fn check(headers: &HeaderMap, port: u16) -> Result<(), Refusal> {
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    if !host.is_some_and(|h| is_self(h, port)) {
        return Err(Refusal::Host);
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|o| is_self(o, port));
        if !same {
            return Err(Refusal::Origin);
        }
    }
    Ok(())
}

/// `authority` is `NAME:PORT` with one of the loopback names and `port`.
fn is_self(authority: &str, port: u16) -> bool {
    authority.rsplit_once(':').is_some_and(|(name, p)| {
        p.parse::<u16>() == Ok(port) && LOOPBACK_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(HOST, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_this_servers_host_and_origin_pass() {
        assert_eq!(check(&headers(Some("127.0.0.1:8080"), None), 8080), Ok(()));
        assert_eq!(
            check(
                &headers(Some("LOCALHOST:8080"), Some("http://localhost:8080")),
                8080
            ),
            Ok(())
        );
        assert_eq!(check(&headers(None, None), 8080), Err(Refusal::Host));
        assert_eq!(
            check(&headers(Some("127.0.0.1"), None), 8080),
            Err(Refusal::Host)
        );
        assert_eq!(
            check(&headers(Some("127.0.0.1:8081"), None), 8080),
            Err(Refusal::Host)
        );
        assert_eq!(
            check(&headers(Some("evil.example:8080"), None), 8080),
            Err(Refusal::Host)
        );
        assert_eq!(
            check(&headers(Some("127.0.0.1:8080"), Some("null")), 8080),
            Err(Refusal::Origin)
        );
        assert_eq!(
            check(
                &headers(Some("127.0.0.1:8080"), Some("https://127.0.0.1:8080")),
                8080
            ),
            Err(Refusal::Origin)
        );
        assert_eq!(
            check(
                &headers(Some("127.0.0.1:8080"), Some("http://evil.example")),
                8080
            ),
            Err(Refusal::Origin)
        );
    }
}
