//! ePHPm: a thread-per-core PHP application server with embedded ZTS PHP.
//!
//! `src/` wires the pieces together: the CLI and configuration, the HTTP/1.1 protocol, routing
//! and static files, the per-core executors and the PHP thread pools (see ARCHITECTURE.md).

mod access_log;
mod acme;
mod cli;
mod config;
mod db;
mod fault_injection;
mod http;
mod kvstore;
mod logging;
mod node_api;
mod php;
mod router;
mod server;
mod static_files;

use std::process::ExitCode;

use anyhow::Context as _;

use cli::{Cli, Command};
use config::Config;

fn main() -> ExitCode {
    let cli: Cli = argh::from_env();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ephpm: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let config_file = args.config.clone();
            let mut config = Config::load(config_file.as_deref(), env_vars())?;
            config.apply_cli(&args)?;
            logging::init(&config.log)?;
            server::serve(config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::PhpCli(args) => {
            let config = Config::load(None, env_vars())?;
            let engine = php::start_cli_engine(&config)?;
            let script = std::path::absolute(&args.script)
                .with_context(|| format!("script {}", args.script.display()))?;
            let status = engine.run_cli(&script, &args.args)?;
            Ok(ExitCode::from(u8::try_from(status & 0xff).unwrap_or(255)))
        }
        Command::Version(_) => {
            let config = Config::default();
            let engine = php::start_cli_engine(&config)?;
            println!("ePHPm {}", env!("CARGO_PKG_VERSION"));
            println!("PHP {} (ZTS, embed)", php_sys::Engine::php_version());
            let mut extensions = engine.extensions();
            extensions.sort_by_key(|name| name.to_ascii_lowercase());
            extensions.dedup();
            println!("Extensions: {}", extensions.join(", "));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The environment as UTF-8 pairs (variables that are not UTF-8 cannot be EPHPM_ settings).
fn env_vars() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}
