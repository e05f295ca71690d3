fn main() -> std::process::ExitCode {
    spadeploy::cli::main()
}
