//! Test fixture code (not an example for users), shared by the fixtures
//! examples/http_app.rs and examples/load_client.rs: reads the head of an
//! HTTP/1.1 message (request or response) from a buffered stream.

use std::io::{self, BufRead};

/// A message head: its first line and the headers the fixtures act on.
pub struct Head {
    /// The request or status line, without its line end.
    pub first: String,
    pub content_length: Option<u64>,
    /// The connection cannot be reused: HTTP/1.0 or `Connection: close`.
    pub close: bool,
}

/// Reads a head up to its empty line. End of stream before that is an
/// `UnexpectedEof` error.
pub fn read_head(reader: &mut impl BufRead) -> io::Result<Head> {
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> io::Result<()> {
        line.clear();
        match reader.read_line(line)? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-message",
            )),
            _ => Ok(()),
        }
    };
    read_line(&mut line)?;
    let first = line.trim_end().to_string();
    let mut head = Head {
        close: first.contains("HTTP/1.0"),
        first,
        content_length: None,
    };
    loop {
        read_line(&mut line)?;
        let Some((name, value)) = line.trim_end().split_once(':') else {
            if line.trim_end().is_empty() {
                return Ok(head);
            }
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = value.eq_ignore_ascii_case("close");
        }
    }
}
