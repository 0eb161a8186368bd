use std::process::ExitCode;

use clap::Parser;
use slipway::cli::{Cli, Status, run};

/// slipway allocates many small strings and maps; mimalloc serves that
/// pattern faster than the system allocator, on both cores.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
