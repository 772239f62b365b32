//! The `bucketgate` command: `run` the gateway, or `check-config` a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use bucketgate::config::Config;
use bucketgate::profile::Profile;

// See Cargo.toml: jemalloc for the request path's many small allocations.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    version,
    about = "A Spaces-compatible S3 gateway in front of any S3 backend"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        #[arg(long, short)]
        config: PathBuf,
        /// Take over the listening sockets of a running bucketgate (zero-downtime upgrade):
        /// start this, then send SIGQUIT to the old process.
        #[arg(long)]
        upgrade: bool,
    },
    /// Serve only the config's embedded backend (`[embedded]`), in the foreground, until
    /// stopped: what `scripts/test.sh` runs the test suite's s3s-fs lane against.
    Embedded {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file (and the profile it names) and exit.
    CheckConfig {
        config: PathBuf,
        /// Also probe the backend: the service credential, the system bucket (created if
        /// missing) and which kind of server answers.
        #[arg(long)]
        probe: bool,
    },
}

fn load(path: &Path) -> Result<(Config, Profile), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let profile = match &config.server.profile {
        None => Profile::spaces(),
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                format!(
                    "{}: server.profile: cannot read {}: {e}",
                    path.display(),
                    file.display()
                )
            })?;
            Profile::from_toml(&text).map_err(|e| format!("{}: {e}", file.display()))?
        }
    };
    Ok((config, profile))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config, probe } => match load(&config) {
            Ok((c, p)) => {
                println!(
                    "{}: ok ({} listener(s), {} user(s), backend {}, profile {})",
                    config.display(),
                    c.server.listen.len(),
                    c.users.len(),
                    c.backend.authority(),
                    p.name
                );
                let caps = &c.backend.capabilities;
                println!(
                    "backend kind {} ({}, backends/{}.toml)",
                    c.backend.kind.as_str(),
                    caps.name,
                    c.backend.kind.as_str()
                );
                for line in caps.gateway_fills_in() {
                    println!("  the gateway {line}");
                }
                if probe {
                    let probed = tokio::runtime::Runtime::new()
                        .map_err(|e| e.to_string())
                        .and_then(|rt| rt.block_on(bucketgate::upstream::probe::probe(&c.backend)));
                    match probed {
                        Ok(p) => {
                            println!("{}", p.describe(c.backend.kind));
                            if p.system_bucket.is_err() {
                                return ExitCode::FAILURE;
                            }
                        }
                        Err(e) => {
                            eprintln!("{e}");
                            return ExitCode::FAILURE;
                        }
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Embedded { config: path } => {
            let config = match start(&path) {
                Ok((config, _)) if config.embedded.is_some() => config,
                Ok(_) => {
                    eprintln!("{}: no [embedded] section", path.display());
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(
                "embedded backend listening on {}",
                config.backend.authority()
            );
            // The backend runs on its own thread; this one only waits to be stopped.
            loop {
                std::thread::park();
            }
        }
        Command::Run { config, upgrade } => {
            let path = config.clone();
            let (config, profile) = match start(&config) {
                Ok(loaded) => loaded,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let listen: Vec<String> = config
                .server
                .listen
                .iter()
                .map(ToString::to_string)
                .collect();
            let server = match bucketgate::proxy::build_server(
                Arc::new(config),
                profile,
                Some(path),
                upgrade,
            ) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!("bucketgate listening on {}", listen.join(", "));
            server.run_forever()
        }
    }
}

/// Loads the config, starts logging and the embedded backend (if `[embedded]`): what `run`
/// and `embedded` both begin with.
fn start(path: &Path) -> Result<(Config, Profile), String> {
    let (config, profile) = load(path)?;
    bucketgate::telemetry::init(config.server.log_format);
    start_embedded(&config).map_err(|e| format!("embedded backend: {e}"))?;
    Ok((config, profile))
}

#[cfg(feature = "embedded")]
fn start_embedded(config: &Config) -> std::io::Result<()> {
    let Some(embedded) = &config.embedded else {
        return Ok(());
    };
    let b = &config.backend;
    let ip: std::net::IpAddr = if b.host == "localhost" {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        b.host.parse().map_err(std::io::Error::other)?
    };
    bucketgate::upstream::embedded::start(
        (ip, b.port).into(),
        &embedded.data_dir,
        &b.access_key,
        &b.secret_key,
    )
}

#[cfg(not(feature = "embedded"))]
fn start_embedded(config: &Config) -> std::io::Result<()> {
    match config.embedded {
        None => Ok(()),
        Some(_) => Err(std::io::Error::other(
            "this build has no embedded backend (feature \"embedded\")",
        )),
    }
}
