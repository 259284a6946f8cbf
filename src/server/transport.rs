//! What an HTTP connection runs over: a plain TCP stream or TLS on top of one. The connection
//! loop only needs bytes in and out plus two things plain `AsyncRead`/`AsyncWrite` lack.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use futures_rustls::server::TlsStream;
use glommio::net::TcpStream;

/// A byte stream to one client.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Resolves once input is waiting, without taking it (an idle keep-alive connection waits
    /// here with no read buffer): `Ok(false)` when the client closed.
    fn wait_readable(&mut self) -> impl Future<Output = io::Result<bool>>;

    /// Says "no more output" (FIN; TLS first sends close_notify) while still reading.
    fn shutdown_write(&mut self) -> impl Future<Output = io::Result<()>>;

    /// True over TLS: PHP then sees `HTTPS=on`.
    fn is_secure(&self) -> bool;
}

impl Transport for TcpStream {
    async fn wait_readable(&mut self) -> io::Result<bool> {
        let mut probe = [0u8; 1];
        Ok(self.peek(&mut probe).await? > 0)
    }

    async fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write).await?;
        Ok(())
    }

    fn is_secure(&self) -> bool {
        false
    }
}

impl Transport for TlsStream<TcpStream> {
    async fn wait_readable(&mut self) -> io::Result<bool> {
        let (tcp, tls) = self.get_mut();
        // Plaintext rustls already decrypted (the rest of a record bigger than the last read)
        // never shows on the socket again.
        let buffered = tls
            .process_new_packets()
            .map(|state| state.plaintext_bytes_to_read() > 0)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        if buffered {
            return Ok(true);
        }
        tcp.wait_readable().await
    }

    async fn shutdown_write(&mut self) -> io::Result<()> {
        self.get_mut().1.send_close_notify();
        self.flush().await?;
        self.get_mut().0.shutdown_write().await
    }

    fn is_secure(&self) -> bool {
        true
    }
}

/// A stream whose first reads return bytes already taken from it: the HTTP/1.1 reader hands
/// an h2c connection to HTTP/2 together with the preface it read.
pub(crate) struct Rewind<T> {
    buffered: Vec<u8>,
    position: usize,
    inner: T,
}

impl<T> Rewind<T> {
    /// `inner`, whose next reads first yield `buffered`.
    pub(crate) fn new(buffered: Vec<u8>, inner: T) -> Rewind<T> {
        Rewind {
            buffered,
            position: 0,
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let rest = &this.buffered[this.position..];
        if rest.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        this.position += n;
        if this.position == this.buffered.len() {
            this.buffered = Vec::new();
            this.position = 0;
        }
        Poll::Ready(Ok(n))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::AsyncReadExt as _;

    use super::Rewind;

    #[test]
    fn rewound_bytes_come_before_the_stream() {
        let mut stream = Rewind::new(b"PRI ".to_vec(), &b"* HTTP/2.0"[..]);
        let mut all = String::new();
        futures_lite::future::block_on(stream.read_to_string(&mut all)).unwrap();
        assert_eq!(all, "PRI * HTTP/2.0");
    }
}
