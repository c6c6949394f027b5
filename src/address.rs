//! Addresses and URLs as users write them for the health options: a
//! listener's `HOST:PORT`, `[IPV6]:PORT` or `:PORT`, and a probe's or
//! request's `tcp://HOST:PORT` or `http://HOST[:PORT][/PATH]`. Pure
//! parsing: names are resolved by the I/O side each time they are used.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Where the readiness endpoint listens.
pub type ListenAddr = SocketAddr;

/// A host and port to connect to; the host may be a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// What a probe or a drain request checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `tcp://HOST:PORT`: the connection is established.
    Tcp(Endpoint),
    /// `http://HOST[:PORT][/PATH]`: a request gets an answer.
    Http { endpoint: Endpoint, path: String },
}

/// The HTTP methods `--drain-http` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
}

/// `--drain-http`'s value: one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub endpoint: Endpoint,
    pub path: String,
}

/// The longest host name DNS allows; longer input is refused, not stored.
const MAX_HOST: usize = 253;

const LISTEN_FORMS: &str = "expected HOST:PORT, [IPV6]:PORT or :PORT";
const URL_FORMS: &str = "expected tcp://HOST:PORT or http://HOST[:PORT][/PATH]";
const REQUEST_FORMS: &str = "expected [METHOD ]http://HOST[:PORT][/PATH]";

/// Parses a listener address. `:PORT` means every IPv4 address; HOST must
/// be an IP address (a listener binds before any name could matter).
pub fn parse_listen(text: &str) -> Result<ListenAddr, String> {
    let (host, port) = split_host_port(text).ok_or_else(|| LISTEN_FORMS.to_string())?;
    let port = parse_port(port)?;
    let ip = if host.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse()
            .map_err(|_| format!("{host:?} is not an IP address ({LISTEN_FORMS})"))?
    };
    Ok(SocketAddr::new(ip, port))
}

/// Parses a probe URL: `tcp://HOST:PORT` or `http://HOST[:PORT][/PATH]`.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| URL_FORMS.to_string())?;
    match scheme.to_ascii_lowercase().as_str() {
        "tcp" => {
            let (host, port) = split_host_port(rest).ok_or_else(|| URL_FORMS.to_string())?;
            Ok(Target::Tcp(endpoint(host, parse_port(port)?)?))
        }
        "http" => {
            let (authority, path) = match rest.find(['/', '?']) {
                Some(i) if rest.as_bytes()[i] == b'?' => (&rest[..i], format!("/{}", &rest[i..])),
                Some(i) => (&rest[..i], rest[i..].to_string()),
                None => (rest, "/".to_string()),
            };
            if let Some(bad) = path.chars().find(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("the path may not contain {bad:?}"));
            }
            let (host, port) = match split_host_port(authority) {
                Some((host, port)) => (host, parse_port(port)?),
                None => (strip_brackets(authority), 80),
            };
            Ok(Target::Http {
                endpoint: endpoint(host, port)?,
                path,
            })
        }
        "https" => Err(
            "https is not supported: use --drain-exec with a TLS client (e.g. curl) instead"
                .to_string(),
        ),
        _ => Err(format!("unsupported scheme {scheme:?} ({URL_FORMS})")),
    }
}

/// Parses `--drain-http`'s `[METHOD ]URL`; the URL must be `http://`.
pub fn parse_request(text: &str) -> Result<Request, String> {
    let text = text.trim();
    let (method, url) = match text.split_once(char::is_whitespace) {
        Some((method, url)) => (parse_method(method)?, url.trim_start()),
        None => (Method::Get, text),
    };
    match parse_target(url).map_err(|e| e.replace(URL_FORMS, REQUEST_FORMS))? {
        Target::Http { endpoint, path } => Ok(Request {
            method,
            endpoint,
            path,
        }),
        Target::Tcp(_) => Err(REQUEST_FORMS.to_string()),
    }
}

fn parse_method(text: &str) -> Result<Method, String> {
    match text.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::Get),
        "POST" => Ok(Method::Post),
        "PUT" => Ok(Method::Put),
        "DELETE" => Ok(Method::Delete),
        "PATCH" => Ok(Method::Patch),
        _ => Err(format!(
            "{text:?} is not a method (expected GET, POST, PUT, DELETE or PATCH)"
        )),
    }
}

/// `HOST:PORT` or `[V6]:PORT` split at the port's colon; `None` when
/// there is no port.
fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        return Some((host, tail.strip_prefix(':')?));
    }
    let (host, port) = text.rsplit_once(':')?;
    // An unbracketed IPv6 address has more colons: its port is ambiguous.
    (!host.contains(':')).then_some((host, port))
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!("{text:?} is not a port (1-65535)")),
    }
}

/// A host to connect to: an IP address or a plausible DNS name.
fn endpoint(host: &str, port: u16) -> Result<Endpoint, String> {
    let plausible = host.parse::<IpAddr>().is_ok()
        || (!host.is_empty()
            && host.len() <= MAX_HOST
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
    if !plausible {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    Ok(Endpoint {
        host: host.to_string(),
        port,
    })
}

impl Method {
    /// The method as it goes on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    /// Whether the request says `Content-Length: 0` for its empty body.
    pub fn sends_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

impl Endpoint {
    /// The host as a URL or a Host header writes it: IPv6 in brackets.
    pub fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// `host:port`, bracketing IPv6 addresses, as in a URL.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.url_host(), self.port)
    }
}

/// The URL as a user would write it, for log lines.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(endpoint) => write!(f, "tcp://{endpoint}"),
            Target::Http { endpoint, path } => write!(f, "http://{endpoint}{path}"),
        }
    }
}

/// `PUT http://host:port/path`, for log lines.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} http://{}{}",
            self.method.as_str(),
            self.endpoint,
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn listen_addresses_in_every_form() {
        assert_eq!(parse_listen(":8081"), Ok("0.0.0.0:8081".parse().unwrap()));
        assert_eq!(
            parse_listen("127.0.0.1:9"),
            Ok("127.0.0.1:9".parse().unwrap())
        );
        assert_eq!(parse_listen("[::1]:80"), Ok("[::1]:80".parse().unwrap()));
        assert_eq!(
            parse_listen("localhost:80"),
            Ok("127.0.0.1:80".parse().unwrap())
        );
        for bad in [
            "", "8081", ":0", ":65536", ":-1", "::1:80", "[::1]80", "host:80", ":8o", "1.2.3:4",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_in_every_form() {
        assert_eq!(
            parse_target("tcp://127.0.0.1:8080"),
            Ok(Target::Tcp(ep("127.0.0.1", 8080)))
        );
        assert_eq!(
            parse_target("http://localhost"),
            Ok(Target::Http {
                endpoint: ep("localhost", 80),
                path: "/".into()
            })
        );
        assert_eq!(
            parse_target("HTTP://[::1]:81/health?x=1"),
            Ok(Target::Http {
                endpoint: ep("::1", 81),
                path: "/health?x=1".into()
            })
        );
        assert_eq!(
            parse_target("http://eureka.svc:8761?x"),
            Ok(Target::Http {
                endpoint: ep("eureka.svc", 8761),
                path: "/?x".into()
            })
        );
        for bad in [
            "",
            "127.0.0.1:80",
            "tcp://host",
            "tcp://:80",
            "udp://h:1",
            "http://",
            "http://a b/",
            "http://h/a b",
            "http://h:0/",
            "http://h:/",
            "http://h/\r\nX: y",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
        let https = parse_target("https://h/").unwrap_err();
        assert!(https.contains("--drain-exec"), "{https}");
    }

    #[test]
    fn requests_take_an_optional_method() {
        let r =
            parse_request("PUT http://h:8761/eureka/apps/A/i/status?value=OUT_OF_SERVICE").unwrap();
        assert_eq!(r.method, Method::Put);
        assert_eq!(r.endpoint, ep("h", 8761));
        assert_eq!(r.path, "/eureka/apps/A/i/status?value=OUT_OF_SERVICE");
        assert_eq!(parse_request("http://h/x").unwrap().method, Method::Get);
        assert_eq!(
            parse_request("post  http://h/").unwrap().method,
            Method::Post
        );
        // Every method by name, in any case.
        for (name, method) in [
            ("get", Method::Get),
            ("POST", Method::Post),
            ("Put", Method::Put),
            ("DELETE", Method::Delete),
            ("patch", Method::Patch),
        ] {
            let r = parse_request(&format!("{name} http://h/")).unwrap();
            assert_eq!(r.method, method, "{name}");
        }
        assert!(parse_request("FETCH http://h/").is_err());
        assert!(parse_request("tcp://h:1").is_err());
        let bad = parse_request("ftp://h/").unwrap_err();
        assert!(bad.contains("http://") && !bad.contains("tcp://"), "{bad}");
        assert_eq!(
            parse_request("DELETE http://[::1]:8/a")
                .unwrap()
                .to_string(),
            "DELETE http://[::1]:8/a"
        );
    }
}
