//! The command line: `ephpm serve`, `ephpm php-cli` and `ephpm version`.
//!
//! Parsing is done by [`argh`]; `main` calls `argh::from_env::<Cli>()`. The
//! flags of `serve` are applied over the loaded configuration by
//! `Config::apply_cli`, so they win over the config file and `EPHPM_*`
//! environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use argh::{EarlyExit, FromArgs, SubCommand};

/// ePHPm: a thread-per-core PHP application server with embedded PHP.
#[derive(FromArgs, Debug, PartialEq, Eq)]
pub struct Cli {
    /// what to do
    #[argh(subcommand)]
    pub command: Command,
}

/// The subcommands of `ephpm`.
#[derive(FromArgs, Debug, PartialEq, Eq)]
#[argh(subcommand)]
pub enum Command {
    /// `ephpm serve`: run the HTTP server.
    Serve(ServeArgs),
    /// `ephpm php-cli`: run a PHP script from the command line.
    PhpCli(PhpCliArgs),
    /// `ephpm version`: print version information.
    Version(VersionArgs),
}

/// Serve a PHP application over HTTP.
#[derive(FromArgs, Debug, Default, PartialEq, Eq)]
#[argh(
    subcommand,
    name = "serve",
    example = "{command_name} --root ./public --listen 127.0.0.1:8080",
    note = "Settings come from built-in defaults, then the config file, then\n\
            EPHPM_<SECTION>__<KEY> environment variables, then these flags;\n\
            each source overrides the ones before it."
)]
pub struct ServeArgs {
    /// directory to serve files and PHP scripts from
    /// (config: server.document_root, default: the current directory)
    #[argh(option, arg_name = "dir")]
    pub root: Option<PathBuf>,

    /// address and port to listen on, e.g. 127.0.0.1:8080
    /// (config: server.listen, default: 0.0.0.0:8080)
    #[argh(option, arg_name = "addr")]
    pub listen: Option<SocketAddr>,

    /// number of CPU cores to use, one server thread per core; 0 means all
    /// (config: server.cores, default: all)
    #[argh(option, arg_name = "n")]
    pub cores: Option<usize>,

    /// configuration file to read (default: ./ephpm.toml when it exists)
    #[argh(option, arg_name = "file")]
    pub config: Option<PathBuf>,

    /// set a php.ini directive, e.g. --php-ini memory_limit=256M; repeat for more
    /// (config: [php.ini])
    #[argh(option, arg_name = "key=value")]
    pub php_ini: Vec<String>,

    /// number of PHP worker threads per core (config: php.threads_per_core, default: 8)
    #[argh(option, arg_name = "n")]
    pub threads: Option<usize>,

    /// PEM certificate chain for HTTPS (config: server.tls.cert; HTTPS listens on
    /// server.tls.listen, default 0.0.0.0:8443)
    #[argh(option, arg_name = "file")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for --tls-cert (config: server.tls.key)
    #[argh(option, arg_name = "file")]
    pub tls_key: Option<PathBuf>,

    /// worker script (FrankenPHP worker mode), e.g. public/index.php: booted once per
    /// worker, it answers the requests that would run it (config: php.worker.script)
    #[argh(option, arg_name = "file")]
    pub worker: Option<PathBuf>,
}

/// Arguments of `ephpm php-cli`: a script and the arguments passed to it.
///
/// Everything after the script name goes to the script untouched, including
/// arguments that look like flags (`ephpm php-cli artisan migrate --force`,
/// `ephpm php-cli vendor/bin/phpunit --filter Foo`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PhpCliArgs {
    /// Path of the PHP script to run.
    pub script: PathBuf,
    /// Arguments passed to the script as `$argv[1..]`.
    pub args: Vec<String>,
}

// How argh parses `php-cli`: one greedy positional holding the script and
// its arguments. argh stops option parsing once a greedy positional receives
// its first value, so making the script part of the greedy list lets flags
// right after the script (`artisan --version`) reach the script instead of
// being rejected by argh. `PhpCliArgs::from_args` splits the list and
// requires the script.
#[derive(FromArgs)]
#[argh(
    subcommand,
    name = "php-cli",
    description = "Run a PHP script from the command line, like the `php` command.",
    usage = "<script> [<args>...]",
    example = "{command_name} artisan migrate --force",
    note = "Every argument after the script, including ones starting with '-',\n\
            is passed to the script."
)]
struct RawPhpCliArgs {
    /// the PHP script to run, followed by the arguments passed to it
    #[argh(positional, greedy, arg_name = "script")]
    command_line: Vec<String>,
}

impl FromArgs for PhpCliArgs {
    fn from_args(command_name: &[&str], args: &[&str]) -> Result<Self, EarlyExit> {
        let raw = RawPhpCliArgs::from_args(command_name, args)?;
        let mut command_line = raw.command_line.into_iter();
        let script = command_line.next().ok_or_else(|| {
            EarlyExit::from("Required positional arguments not provided:\n    script".to_owned())
        })?;
        Ok(Self {
            script: PathBuf::from(script),
            args: command_line.collect(),
        })
    }

    fn redact_arg_values(command_name: &[&str], args: &[&str]) -> Result<Vec<String>, EarlyExit> {
        RawPhpCliArgs::redact_arg_values(command_name, args)
    }
}

impl SubCommand for PhpCliArgs {
    const COMMAND: &'static argh::CommandInfo = RawPhpCliArgs::COMMAND;
}

/// Print the ePHPm version and the embedded PHP version.
#[derive(FromArgs, Debug, Default, PartialEq, Eq)]
#[argh(subcommand, name = "version")]
pub struct VersionArgs {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, EarlyExit> {
        Cli::from_args(&["ephpm"], args)
    }

    fn help_text(args: &[&str]) -> String {
        match parse(args) {
            Err(exit) => {
                assert_eq!(exit.status, Ok(()), "help must exit successfully");
                exit.output
            }
            Ok(cli) => panic!("expected help output, parsed {cli:?}"),
        }
    }

    #[test]
    fn serve_without_flags_leaves_everything_to_the_config() {
        let cli = parse(&["serve"]).unwrap();
        assert_eq!(cli.command, Command::Serve(ServeArgs::default()));
    }

    #[test]
    fn serve_parses_every_flag() {
        let cli = parse(&[
            "serve",
            "--root",
            "public",
            "--listen",
            "127.0.0.1:9000",
            "--cores",
            "2",
            "--config",
            "/etc/ephpm.toml",
            "--php-ini",
            "memory_limit=256M",
            "--php-ini",
            "display_errors=On",
            "--threads",
            "4",
        ])
        .unwrap();
        let expected = ServeArgs {
            root: Some(PathBuf::from("public")),
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            cores: Some(2),
            config: Some(PathBuf::from("/etc/ephpm.toml")),
            php_ini: vec!["memory_limit=256M".into(), "display_errors=On".into()],
            threads: Some(4),
            tls_cert: None,
            tls_key: None,
            worker: None,
        };
        assert_eq!(cli.command, Command::Serve(expected));
    }

    #[test]
    fn serve_rejects_a_bad_listen_address() {
        let exit = parse(&["serve", "--listen", "localhost"]).unwrap_err();
        assert_eq!(exit.status, Err(()));
        assert!(exit.output.contains("--listen"), "{}", exit.output);
    }

    #[test]
    fn serve_rejects_a_non_numeric_core_count() {
        let exit = parse(&["serve", "--cores", "many"]).unwrap_err();
        assert_eq!(exit.status, Err(()));
        assert!(exit.output.contains("--cores"), "{}", exit.output);
    }

    #[test]
    fn php_cli_passes_flags_after_the_script_through() {
        let cli = parse(&["php-cli", "artisan", "migrate", "--force"]).unwrap();
        let expected = PhpCliArgs {
            script: PathBuf::from("artisan"),
            args: vec!["migrate".into(), "--force".into()],
        };
        assert_eq!(cli.command, Command::PhpCli(expected));
    }

    #[test]
    fn php_cli_passes_a_flag_right_after_the_script_through() {
        let cli = parse(&["php-cli", "vendor/bin/phpunit", "--filter", "Foo", "--help"]).unwrap();
        let expected = PhpCliArgs {
            script: PathBuf::from("vendor/bin/phpunit"),
            args: vec!["--filter".into(), "Foo".into(), "--help".into()],
        };
        assert_eq!(cli.command, Command::PhpCli(expected));
    }

    #[test]
    fn php_cli_passes_a_double_dash_after_the_script_through() {
        let cli = parse(&["php-cli", "bin/console", "--", "-x"]).unwrap();
        let expected = PhpCliArgs {
            script: PathBuf::from("bin/console"),
            args: vec!["--".into(), "-x".into()],
        };
        assert_eq!(cli.command, Command::PhpCli(expected));
    }

    #[test]
    fn php_cli_with_only_a_script_has_no_args() {
        let cli = parse(&["php-cli", "index.php"]).unwrap();
        let expected = PhpCliArgs {
            script: PathBuf::from("index.php"),
            args: Vec::new(),
        };
        assert_eq!(cli.command, Command::PhpCli(expected));
    }

    #[test]
    fn php_cli_requires_a_script() {
        let exit = parse(&["php-cli"]).unwrap_err();
        assert_eq!(exit.status, Err(()));
        assert!(exit.output.contains("script"), "{}", exit.output);
    }

    #[test]
    fn php_cli_help_shows_the_usage() {
        let help = help_text(&["php-cli", "--help"]);
        assert!(
            help.contains("Usage: ephpm php-cli <script> [<args>...]"),
            "{help}"
        );
    }

    #[test]
    fn version_takes_no_arguments() {
        assert_eq!(
            parse(&["version"]).unwrap().command,
            Command::Version(VersionArgs {})
        );
        assert!(parse(&["version", "extra"]).is_err());
    }

    #[test]
    fn a_subcommand_is_required() {
        let exit = parse(&[]).unwrap_err();
        assert_eq!(exit.status, Err(()));
    }

    #[test]
    fn top_level_help_lists_the_subcommands() {
        let help = help_text(&["--help"]);
        for name in ["serve", "php-cli", "version"] {
            assert!(help.contains(name), "{name} missing from:\n{help}");
        }
    }

    #[test]
    fn serve_help_describes_the_flags() {
        let help = help_text(&["serve", "--help"]);
        for flag in [
            "--root",
            "--listen",
            "--cores",
            "--config",
            "--php-ini",
            "--threads",
        ] {
            assert!(help.contains(flag), "{flag} missing from:\n{help}");
        }
    }
}
