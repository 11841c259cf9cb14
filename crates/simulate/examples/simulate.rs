//! Writes a simulation: `cargo run -p simulate --release --example simulate -- DIR [OPTIONS.toml]`.
//!
//! Options not in the TOML file take their defaults (see `simulate::Options`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: simulate DIR [OPTIONS.toml]");
        return ExitCode::FAILURE;
    };
    let options = match args.next() {
        Some(path) => match std::fs::read_to_string(&path)
            .map_err(|error| error.to_string())
            .and_then(|text| simulate::Options::from_toml(&text).map_err(|e| e.to_string()))
        {
            Ok(options) => options,
            Err(error) => {
                eprintln!("{path}: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => simulate::Options::default(),
    };
    match simulate::write_simulation(&options, &dir) {
        Ok(summary) => {
            println!(
                "{} files, {} rows, {} crimes, {} counted ({} online child sexual offences), {} malformed rows",
                summary.files,
                summary.rows,
                summary.crimes,
                summary.national.counted,
                summary.national.counted_online_child_sexual,
                summary.malformed_total()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
