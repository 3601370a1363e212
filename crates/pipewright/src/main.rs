//! The `pipewright` command: everything is in the library (`lib.rs`).

fn main() {
    std::process::exit(pipewright::main_exit_code());
}
