//! [`ConnectOptions`]: where and how to connect, and their `mysql://` URL form.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// The MySQL port, used when a URL names none.
pub const DEFAULT_PORT: u16 = 3306;

/// How long [`ConnectOptions::from_url`] lets the TCP connect and the login take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest payload [`ConnectOptions::from_url`] accepts from the server: 64 MiB, MySQL 8's
/// default `max_allowed_packet`.
pub const DEFAULT_MAX_PACKET: usize = 64 * 1024 * 1024;

/// Where and how to connect.
///
/// `Debug` shows the password as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password; empty for none.
    pub password: String,
    /// The database to select at login.
    pub database: Option<String>,
    /// Time allowed for the TCP connect, and then for each read and write of the login.
    pub connect_timeout: Duration,
    /// Time allowed for each read and write after login; `None` waits forever.
    pub read_timeout: Option<Duration>,
    /// The largest payload accepted from the server; a larger one fails the connection with
    /// [`super::ClientError::TooLarge`].
    pub max_packet: usize,
    /// Behaviour flags to ask for (`capabilities::BEHAVIOUR`: `CLIENT_FOUND_ROWS`, affected
    /// rows count the rows an UPDATE matched; `CLIENT_LOCAL_FILES`, the server may ask for a
    /// `LOAD DATA LOCAL INFILE` file). Others are ignored.
    pub behaviour: u32,
}

/// Why a `mysql://` URL was refused. Messages never include the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    /// The URL does not start with `mysql://` (or `mariadb://`).
    #[error("the database URL must start with mysql:// or mariadb://")]
    Scheme,
    /// No `user@` part.
    #[error("the database URL has no user name (mysql://user:password@host:port/db)")]
    MissingUser,
    /// No host.
    #[error("the database URL has no host (mysql://user:password@host:port/db)")]
    MissingHost,
    /// A host that does not parse (an unclosed `[`, an IPv6 address without brackets).
    #[error("the database URL's host is malformed (write IPv6 addresses as [::1])")]
    InvalidHost,
    /// A port that is not a number from 1 to 65535.
    #[error("the database URL's port `{0}` is not a number from 1 to 65535")]
    InvalidPort(String),
    /// A `%` not followed by two hex digits, or a decoded value that is not UTF-8.
    #[error("the database URL's {0} has invalid percent-encoding (or is not UTF-8 once decoded)")]
    InvalidEncoding(&'static str),
    /// A path with more than one segment.
    #[error("the database URL's path must be a single database name")]
    InvalidDatabase,
    /// `?name=value` parameters, which this client does not support; names the parameters.
    #[error("the database URL's query parameters are not supported (found: {0})")]
    QueryParameters(String),
    /// A `#fragment`.
    #[error("the database URL must not have a #fragment")]
    Fragment,
}

impl ConnectOptions {
    /// Options for `user` with `password` at `host:port`: no database, the default timeouts
    /// and packet limit.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> ConnectOptions {
        ConnectOptions {
            host: host.into(),
            port,
            user: user.into(),
            password: password.into(),
            database: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: None,
            max_packet: DEFAULT_MAX_PACKET,
            behaviour: 0,
        }
    }

    /// Parses `mysql://user:pass@host:port/db` (`mariadb://` too). User, password and
    /// database are percent-decoded; the port defaults to 3306; the database and password are
    /// optional. The user part ends at the last `@`, so a password may hold `@`, `/`, `?` or
    /// `#` unencoded, but a literal `%` must be written `%25`. Query parameters and fragments
    /// are refused. Timeouts and packet limit get their defaults.
    pub fn from_url(url: &str) -> Result<ConnectOptions, UrlError> {
        let rest = strip_scheme(url).ok_or(UrlError::Scheme)?;
        let (userinfo, location) = rest.rsplit_once('@').ok_or(UrlError::MissingUser)?;
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, password),
            None => (userinfo, ""),
        };
        let user = percent_decode(user, "user name")?;
        if user.is_empty() {
            return Err(UrlError::MissingUser);
        }
        let password = percent_decode(password, "password")?;
        let (authority, database) = split_location(location)?;
        let (host, port) = parse_authority(authority)?;
        let mut options = ConnectOptions::new(host, port, user, password);
        options.database = database;
        Ok(options)
    }

    /// `host:port` for logs and metrics (no credentials); IPv6 hosts in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"***")
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_packet", &self.max_packet)
            .field("behaviour", &self.behaviour)
            .finish()
    }
}

/// What follows `mysql://`, the scheme matched case-insensitively.
fn strip_scheme(url: &str) -> Option<&str> {
    ["mysql://", "mariadb://"].iter().find_map(|scheme| {
        let head = url.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &url[scheme.len()..])
    })
}

/// Splits `host:port/db?query#fragment` into the authority and the decoded database.
fn split_location(location: &str) -> Result<(&str, Option<String>), UrlError> {
    if location.contains('#') {
        return Err(UrlError::Fragment);
    }
    if let Some((_, query)) = location.split_once('?') {
        return Err(UrlError::QueryParameters(parameter_names(query)));
    }
    let Some((authority, path)) = location.split_once('/') else {
        return Ok((location, None));
    };
    if path.contains('/') {
        return Err(UrlError::InvalidDatabase);
    }
    let database = percent_decode(path, "database name")?;
    Ok((authority, Some(database).filter(|db| !db.is_empty())))
}

/// The names of `a=1&b=2` (never the values, which may be secrets).
fn parameter_names(query: &str) -> String {
    let names: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
        .collect();
    if names.is_empty() {
        "`?`".to_owned()
    } else {
        names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_authority(authority: &str) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlError::InvalidHost)?;
        let port = match after {
            "" => None,
            after => Some(after.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((_, port)) if port.contains(':') => return Err(UrlError::InvalidHost),
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => return Err(UrlError::InvalidPort(text.to_owned())),
        },
    };
    Ok((host.to_owned(), port))
}

/// Decodes `%XX` escapes; `field` names the part of the URL in the error.
fn percent_decode(text: &str, field: &'static str) -> Result<String, UrlError> {
    let invalid = || UrlError::InvalidEncoding(field);
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3).ok_or_else(invalid)?;
            let digit = |byte: u8| char::from(byte).to_digit(16).ok_or_else(invalid);
            decoded.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> ConnectOptions {
        ConnectOptions::from_url(url).unwrap()
    }

    #[test]
    fn parses_a_full_url() {
        let options = parse("mysql://app:s3cret@db.example:3307/shop");
        assert_eq!(options.host, "db.example");
        assert_eq!(options.port, 3307);
        assert_eq!(options.user, "app");
        assert_eq!(options.password, "s3cret");
        assert_eq!(options.database.as_deref(), Some("shop"));
        assert_eq!(options.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(options.read_timeout, None);
        assert_eq!(options.max_packet, DEFAULT_MAX_PACKET);
        assert_eq!(options.address(), "db.example:3307");
    }

    #[test]
    fn port_database_and_password_are_optional() {
        let options = parse("MySQL://root@localhost");
        assert_eq!(
            (options.port, options.password.as_str(), options.database),
            (3306, "", None)
        );
        assert_eq!(parse("mysql://root@localhost/").database, None);
        assert_eq!(parse("mariadb://root:@127.0.0.1/x").password, "");
    }

    #[test]
    fn percent_escapes_and_raw_specials_in_passwords() {
        let options = parse("mysql://us%40er:p%3Aa%2Fss%25@h/my%20db");
        assert_eq!(options.user, "us@er");
        assert_eq!(options.password, "p:a/ss%");
        assert_eq!(options.database.as_deref(), Some("my db"));
        let raw = parse("mysql://app:p@ss/w?rd#1@h:1/db");
        assert_eq!(raw.password, "p@ss/w?rd#1");
        assert_eq!((raw.host.as_str(), raw.port), ("h", 1));
        assert_eq!(parse("mysql://app:p%C3%A9@h").password, "pé");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let options = parse("mysql://root@[::1]:3310/db");
        assert_eq!((options.host.as_str(), options.port), ("::1", 3310));
        assert_eq!(options.address(), "[::1]:3310");
        assert_eq!(parse("mysql://root@[fe80::1]").port, 3306);
    }

    #[test]
    fn refuses_malformed_urls_clearly() {
        let cases = [
            ("postgres://a@h", UrlError::Scheme),
            ("mysql://", UrlError::MissingUser),
            ("mysql://localhost/db", UrlError::MissingUser),
            ("mysql://:pw@h", UrlError::MissingUser),
            ("mysql://a@", UrlError::MissingHost),
            ("mysql://a@:3306", UrlError::MissingHost),
            ("mysql://a@h:x", UrlError::InvalidPort("x".into())),
            ("mysql://a@h:0", UrlError::InvalidPort("0".into())),
            ("mysql://a@h:70000", UrlError::InvalidPort("70000".into())),
            ("mysql://a@h:", UrlError::InvalidPort(String::new())),
            ("mysql://a@::1", UrlError::InvalidHost),
            ("mysql://a@[::1", UrlError::InvalidHost),
            ("mysql://a@[::1]x", UrlError::InvalidHost),
            ("mysql://a@h/d/e", UrlError::InvalidDatabase),
            ("mysql://a@h/d#x", UrlError::Fragment),
            ("mysql://a:%zz@h", UrlError::InvalidEncoding("password")),
            ("mysql://a:%f@h", UrlError::InvalidEncoding("password")),
            ("mysql://a:%ff@h", UrlError::InvalidEncoding("password")),
            ("mysql://a:%+f@h", UrlError::InvalidEncoding("password")),
            ("mysql://a@h/%", UrlError::InvalidEncoding("database name")),
        ];
        for (url, expected) in cases {
            assert_eq!(ConnectOptions::from_url(url), Err(expected), "{url}");
        }
    }

    #[test]
    fn query_parameters_are_refused_by_name_only() {
        let error = ConnectOptions::from_url("mysql://a@h/db?ssl-mode=REQUIRED&password=hunter2")
            .unwrap_err();
        assert_eq!(
            error,
            UrlError::QueryParameters("`ssl-mode`, `password`".into())
        );
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn errors_and_debug_never_show_the_password() {
        for url in [
            "mysql://app:hunter2@h:99999/db",
            "mysql://app:hunter2%@h/db",
            "mysql://app:hunter2@[h/db",
            "mysql://app:hunter2@h/a/b",
        ] {
            let error = ConnectOptions::from_url(url).unwrap_err();
            assert!(!error.to_string().contains("hunter2"), "{error}");
            assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
        }
        let options = parse("mysql://app:hunter2@h/db");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
