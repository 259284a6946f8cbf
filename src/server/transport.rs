//! What an HTTP connection runs over: a plain TCP stream or TLS on top of one. The connection
//! loop only needs bytes in and out plus two things plain `AsyncRead`/`AsyncWrite` lack.

use std::future::Future;
use std::io;

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
