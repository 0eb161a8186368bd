use std::process::ExitCode;

use clap::Parser;
use slipway::cli::{Cli, Status, run};
use slipway::diag::printable;

/// slipway allocates many small strings and maps; mimalloc serves that
/// pattern faster than the system allocator, on both cores.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => status.into(),
        Err(error) => {
            // Operational errors name paths, some from the rendered tree.
            eprintln!("error: {}", printable(&format!("{error:#}")));
            Status::Failure.into()
        }
    }
}
