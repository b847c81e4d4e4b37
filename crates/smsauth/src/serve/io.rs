//! The socket as hyper sees it, watched: reads tell the connection when a new request head
//! starts arriving (for the header deadline), and the bare error answers hyper writes on its own
//! for requests it cannot parse (400, 414, 431, with empty bodies) are replaced by the same
//! `{"errors":[{message, code}]}` envelope every other error carries (SPEC §15.7).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::conn::ConnState;
use crate::i18n::{self, Locale};

/// What is being written in place of a canned hyper answer.
struct Replacement {
    bytes: Vec<u8>,
    written: usize,
    /// How many bytes hyper asked to write; reported once the replacement is out.
    reported: usize,
}

pub struct Watched<T> {
    inner: T,
    conn: Arc<ConnState>,
    replacing: Option<Replacement>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, conn: Arc<ConnState>) -> Watched<T> {
        Watched {
            inner,
            conn,
            replacing: None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.conn.bytes_arrived();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match canned_status(buf) {
                Some(status) => {
                    this.replacing = Some(Replacement {
                        bytes: envelope_response(status),
                        written: 0,
                        reported: buf.len(),
                    });
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        let Some(r) = this.replacing.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while r.written < r.bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &r.bytes[r.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            r.written += n;
        }
        let reported = r.reported;
        this.replacing = None;
        Poll::Ready(Ok(reported))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The status of a response hyper wrote by itself: a 4xx whose head has no `content-type`.
/// Every error the router answers has one (`layers::error_body` sets it), so a 4xx head
/// without it can only be hyper's answer to a request it could not parse. hyper writes such a
/// head in one piece (vectored writes are off), and it has no body.
fn canned_status(buf: &[u8]) -> Option<u16> {
    let rest = buf.strip_prefix(b"HTTP/1.1 4")?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let has_type = head
        .split("\r\n")
        .any(|line| line.len() > 13 && line[..13].eq_ignore_ascii_case("content-type:"));
    if has_type {
        return None;
    }
    let digits = std::str::from_utf8(rest.get(..2)?).ok()?;
    digits.parse::<u16>().ok().map(|d| 400 + d)
}

/// A complete HTTP/1.1 response with the error envelope, closing the connection (hyper closes
/// it after a parse error anyway). The locale cannot be known: the request was unreadable.
fn envelope_response(status: u16) -> Vec<u8> {
    let (code, reason) = match status {
        414 => ("URI_TOO_LONG", "URI Too Long"),
        431 => ("HEADERS_TOO_LARGE", "Request Header Fields Too Large"),
        _ => ("BAD_REQUEST", "Bad Request"),
    };
    let message = i18n::message(code, Locale::EnUs, &[]);
    let body = serde_json::json!({ "errors": [{ "message": message, "code": code }] }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_bare_4xx_heads() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(canned_status(bare), Some(431));
        assert_eq!(
            canned_status(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n"),
            Some(414)
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\ncontent-length: 9\r\n\r\n{\"a\":1}";
        assert_eq!(canned_status(ours), None);
        assert_eq!(
            canned_status(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        assert_eq!(canned_status(b"HTTP/1.1 4"), None);
    }

    #[test]
    fn replacement_is_a_whole_response_with_the_envelope() {
        let text = String::from_utf8(envelope_response(414)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["errors"][0]["code"], "URI_TOO_LONG");
        assert!(!v["errors"][0]["message"].as_str().unwrap().is_empty());
    }
}
