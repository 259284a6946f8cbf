//! A client's socket: TCP, or a Unix socket (`db.socket`, which PHP's mysqlnd uses for
//! `localhost`). The connection code needs the same few things from both.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected client.
#[derive(Debug)]
pub enum ClientStream {
    /// A TCP client.
    Tcp(TcpStream),
    /// A client on the Unix socket.
    Unix(UnixStream),
}

impl ClientStream {
    /// A second handle on the same socket.
    pub fn try_clone(&self) -> io::Result<ClientStream> {
        Ok(match self {
            ClientStream::Tcp(stream) => ClientStream::Tcp(stream.try_clone()?),
            ClientStream::Unix(stream) => ClientStream::Unix(stream.try_clone()?),
        })
    }

    /// Bounds each read (`None`: no bound).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            ClientStream::Tcp(stream) => stream.set_read_timeout(timeout),
            ClientStream::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    /// Bounds each write (`None`: no bound).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            ClientStream::Tcp(stream) => stream.set_write_timeout(timeout),
            ClientStream::Unix(stream) => stream.set_write_timeout(timeout),
        }
    }

    /// Closes one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            ClientStream::Tcp(stream) => stream.shutdown(how),
            ClientStream::Unix(stream) => stream.shutdown(how),
        }
    }

    /// The client's host as MySQL names it in errors: its IP, or `localhost` on the socket.
    pub fn peer_host(&self) -> String {
        match self {
            ClientStream::Tcp(stream) => stream
                .peer_addr()
                .map_or_else(|_| "unknown".to_owned(), |address| address.ip().to_string()),
            ClientStream::Unix(_) => "localhost".to_owned(),
        }
    }

    /// The client's IP address; a Unix socket client is local (`localhost` to MySQL).
    pub fn peer_ip(&self) -> io::Result<IpAddr> {
        match self {
            ClientStream::Tcp(stream) => Ok(stream.peer_addr()?.ip()),
            ClientStream::Unix(_) => Ok(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        }
    }
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientStream::Tcp(stream) => stream.read(buf),
            ClientStream::Unix(stream) => stream.read(buf),
        }
    }
}

impl Read for &ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientStream::Tcp(stream) => (&*stream).read(buf),
            ClientStream::Unix(stream) => (&*stream).read(buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ClientStream::Tcp(stream) => stream.write(buf),
            ClientStream::Unix(stream) => stream.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            ClientStream::Tcp(stream) => stream.write_vectored(bufs),
            ClientStream::Unix(stream) => stream.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Tcp(stream) => stream.flush(),
            ClientStream::Unix(stream) => stream.flush(),
        }
    }
}

impl Write for &ClientStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ClientStream::Tcp(stream) => (&*stream).write(buf),
            ClientStream::Unix(stream) => (&*stream).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Tcp(stream) => (&*stream).flush(),
            ClientStream::Unix(stream) => (&*stream).flush(),
        }
    }
}
