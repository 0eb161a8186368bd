use std::process::ExitCode;

use clap::Parser;
use slipway::cli::{Cli, Status, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => status.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            Status::Failure.into()
        }
    }
}
